# pathguard agent image. Two stages: the build stage compiles with the dev
# dependencies (TypeScript); the runtime stage gets dist/src, the production
# node_modules, package.json (the version), bin/ and Debian's nft, which the
# firewall module runs (`nft -f -`) to apply its table in one transaction.
#
#   make image            (docker or podman; IMAGE=pathguard:TAG to name it)
#
# The container runs as uid 0 with every capability dropped but NET_ADMIN and
# NET_RAW (see deploy/base/daemonset.yaml): Kubernetes gives added
# capabilities to uid 0 only, and the alternative, file capabilities on node
# and nft for a non-root user, needs allowPrivilegeEscalation, which is worse.
# With no CAP_DAC_OVERRIDE and a read-only root filesystem, uid 0 here can
# change nothing but the network it is allowed to administer.
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
# Only src/ is compiled (tests and benchmarks are not shipped); then the dev
# dependencies are removed so node_modules is what production needs.
RUN npx tsc -p tsconfig.json && npm prune --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nftables \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
COPY bin ./bin
ENV NODE_ENV=production
USER 0
ENTRYPOINT ["node", "/app/bin/pathguard"]
CMD ["agent", "--config", "/etc/pathguard/config.yaml"]
