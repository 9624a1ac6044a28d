import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { REPO_DIR } from './stack';

/**
 * Headless Debian chromium for the browser tests, installed by the stack script when absent (npm never
 * downloads a browser). Its sandbox needs user namespaces a container may not have, hence --no-sandbox;
 * the other flags keep it from calling home during a test.
 */
export async function launchChromium(): Promise<Browser> {
  execFileSync('bash', [path.join(REPO_DIR, 'stack', 'services', 'chromium.sh'), 'up'], { stdio: 'inherit' });
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
