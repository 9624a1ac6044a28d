# Image of the app's processes for docker-compose.yml; each service picks its entrypoint.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
USER node
