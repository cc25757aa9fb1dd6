# The Remedy image (see docker-compose.yml): the worker, gateway and review page run their TypeScript
# sources with tsx. Node 24 (the current LTS); Node 20 stays supported for running from a clone.
#
#   docker build .                 the production image: runtime dependencies only, workflow bundle prebuilt
#   docker build --target demo .   adds the embedded PostgreSQL and the demo data, for `npm run demo`

FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Runtime dependencies only: no dev tools, and no optional ones (embedded PostgreSQL, the demo datasets),
# which only the demo and the tests use.
RUN npm ci --omit=dev --omit=optional --no-audit --no-fund

FROM node:24-bookworm-slim AS demo-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

# Copies the sources without whatever node_modules/.remedy/.git the build context carried, so host-built
# native modules never overwrite the ones installed for this image.
FROM node:24-bookworm-slim AS source
COPY . /src
RUN mkdir /app \
  && tar -C /src --exclude=./node_modules --exclude=./.remedy --exclude=./.git -cf - . | tar -C /app -xf -

# The workflow code bundled once, at build time: a worker starts without webpack and every replica runs
# the same bytes (workers/bundle.ts; loaded through REMEDY_WORKFLOW_BUNDLE).
FROM node:24-bookworm-slim AS bundle
WORKDIR /app
COPY --from=source /app ./
COPY --from=deps /app/node_modules ./node_modules
RUN npx tsx workers/bundle.ts dist/workflow-bundle.js

FROM node:24-bookworm-slim AS demo
WORKDIR /app
COPY --from=source /app ./
COPY --from=demo-deps /app/node_modules ./node_modules
ENV REMEDY_DATA_DIR=/app/.remedy
RUN mkdir -p /app/.remedy && chown node:node /app/.remedy
USER node
CMD ["npx", "tsx", "dev/demo.ts"]

FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=source /app ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=bundle /app/dist/workflow-bundle.js ./dist/workflow-bundle.js
ENV REMEDY_WORKFLOW_BUNDLE=/app/dist/workflow-bundle.js
# Local state (logs, downloaded binaries) goes to REMEDY_DATA_DIR; the image runs as the unprivileged node user.
ENV REMEDY_DATA_DIR=/app/.remedy
RUN mkdir -p /app/.remedy && chown node:node /app/.remedy
USER node
CMD ["npx", "tsx", "workers/main.ts"]
