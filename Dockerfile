# Image of the app's processes for docker-compose.yml; each service picks its entrypoint in dist/.
# The Node major is the one of .nvmrc (test/unit/node-version.test.ts checks it).

# Compiles the TypeScript (npm run build) with every dependency.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && node dist/scripts/build-workflow-bundle.js dist

# Ships the compiled dist/ with the production dependencies only.
FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY --from=build /app/dist ./dist
# Order workers load the bundle built above instead of bundling (webpack) at every start.
ENV WORKFLOW_BUNDLE_PATH=/app/dist/workflow-bundle.js
# stack/environments.ts reads the test environment's names from beside itself.
COPY stack/stack.env ./dist/stack/
USER node
