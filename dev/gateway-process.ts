/**
 * The serving gateway (`gateway/main.ts`) as its own process, as docker-compose runs it: what the drain
 * test and `bench:gateway` start. Resolves once it listens, with its URL and its log lines.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const gatewayMain = fileURLToPath(new URL('../gateway/main.ts', import.meta.url));

export interface GatewayProcess {
  child: ChildProcess;
  url: string;
  /** Its JSON log lines so far (stderr). */
  lines: () => Record<string, unknown>[];
  /** Resolves with the exit code when the process has exited. */
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** `nodeArgs`: extra options for node, e.g. `--cpu-prof` (a profile is written when it exits). */
export async function spawnGateway(
  env: Record<string, string>,
  nodeArgs: readonly string[] = [],
): Promise<GatewayProcess> {
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', gatewayMain], {
    env: { ...process.env, REMEDY_GATEWAY_HOST: '127.0.0.1', REMEDY_GATEWAY_PORT: '0', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const lines: Record<string, unknown>[] = [];
  let text = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      let nl: number;
      while ((nl = text.indexOf('\n')) >= 0) {
        const line = text.slice(0, nl);
        text = text.slice(nl + 1);
        try {
          const parsed = JSON.parse(line) as Record<string, unknown>;
          lines.push(parsed);
          if (parsed.msg === 'gateway ready') resolve(String(parsed.url));
        } catch {
          lines.push({ msg: line });
        }
      }
    });
    void exited.then((code) =>
      reject(
        new Error(
          `the gateway exited with code ${code} before it was ready: ${lines.map((l) => String(l.msg)).join(' | ')}`,
        ),
      ),
    );
  });
  return {
    child,
    url,
    lines: () => lines,
    exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
