# The Remedy worker image (see docker-compose.yml). Runs the TypeScript sources with tsx; no build step.

FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

# Copies the sources without whatever node_modules/.remedy/.git the build context carried, so host-built
# native modules never overwrite the ones installed for this image.
FROM node:20-bookworm-slim AS source
COPY . /src
RUN mkdir /app \
  && tar -C /src --exclude=./node_modules --exclude=./.remedy --exclude=./.git -cf - . | tar -C /app -xf -

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=source /app ./
COPY --from=deps /app/node_modules ./node_modules
# Local state (logs, downloaded binaries) goes to REMEDY_DATA_DIR; the image runs as the unprivileged node user.
ENV REMEDY_DATA_DIR=/app/.remedy
RUN mkdir -p /app/.remedy && chown node:node /app/.remedy
USER node
CMD ["npx", "tsx", "workers/main.ts"]
