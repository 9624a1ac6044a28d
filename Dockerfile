# Image of the app's processes for docker-compose.yml; each service picks its entrypoint.
# The Node major is the one of .nvmrc (test/unit/node-version.test.ts checks it).
FROM node:24-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
USER node
