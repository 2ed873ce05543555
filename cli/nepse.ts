/**
 * `nepse`: the operator's command line over the mesh's gRPC services (`npm run nepse -- <command>`).
 * This file parses the command line, dispatches to `commands/`, and prints failures; `nepse help`
 * lists the commands. Each service answers at NEPSE_<SERVICE>_ADDR (e.g. NEPSE_PREDICTION_ADDR),
 * by default on 127.0.0.1 at the port `make dev` gives it. Exit codes: 0 done, 1 a service
 * refused or failed, 2 bad usage.
 */
import { parseArgs } from 'node:util';
import { grpc, statusDetails } from '../lib/grpc/index.js';
import { addressSource, createClients, type Clients } from './clients.js';
import { helpText, UsageError, type Command, type CommandInput, type OptionValues } from './command.js';
import { COMMANDS } from './commands/index.js';
import { failureLines } from './format.js';

const USAGE = `usage:
${Object.values(COMMANDS)
  .map((c) => `  nepse ${c.usage}`)
  .join('\n')}

nepse <command> --help describes a command's options with examples; listings take --json.

Services answer at NEPSE_<SERVICE>_ADDR (INGESTION, TRAINING, REGISTRY, PREDICTION, MONITORING),
by default 127.0.0.1 on the ports of make dev; with NEPSE_GATEWAY=host:port every call goes through
the gateway, carrying NEPSE_API_KEY (an API key or a JWT).`;

/** The positionals and options of `argv` for `command`; a UsageError when they do not fit it. */
function parse(name: string, command: Command, argv: string[]): { args: string[]; options: OptionValues } {
  let parsed: { positionals: string[]; values: OptionValues };
  try {
    parsed = parseArgs({ args: argv, options: command.options ?? {}, allowPositionals: true, strict: true }) as typeof parsed;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { min, max } = command.args;
  const count = parsed.positionals.length;
  if (count < min || count > max) {
    const expected = min === max ? `${min}` : count < min ? `at least ${min}` : `at most ${max}`;
    throw new UsageError(`${name} takes ${expected} argument${min === max && min === 1 ? '' : 's'}, got ${count}`);
  }
  return { args: parsed.positionals, options: parsed.values };
}

/** A failed call as the operator reads it: the gRPC message and each field violation. */
function printFailure(error: unknown, clients: Clients): void {
  const details = statusDetails(error);
  const lines = details ? failureLines(details) : [(error as Error).message];
  // A refused connection carries no details: say where the CLI looked and how to point it elsewhere.
  if (!details && (error as { code?: number }).code === grpc.status.UNAVAILABLE) {
    lines.push(
      '  is the mesh running (make dev)? asked:',
      ...clients.dialled().map((d) => `  ${d.service} at ${d.address} (${addressSource(d.service)})`),
    );
  }
  console.error(`nepse: ${lines.join('\n')}`);
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || ['help', '--help', '-h'].includes(name)) {
    (name ? console.log : console.error)(USAGE);
    return name ? 0 : 2;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    console.error(`nepse: unknown command ${JSON.stringify(name)}\n${USAGE}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(helpText(name, command));
    return 0;
  }
  const clients = createClients();
  let interruption: AbortController | undefined;
  try {
    const input: CommandInput = {
      ...parse(name, command, rest),
      clients,
      interrupted() {
        if (!interruption) {
          interruption = new AbortController();
          process.once('SIGINT', () => interruption!.abort());
        }
        return interruption.signal;
      },
    };
    return (await command.run(input)) ?? 0;
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`nepse: ${error.message}\nusage: nepse ${command.usage}`);
      return 2;
    }
    printFailure(error, clients);
    return 1;
  } finally {
    clients.close();
  }
}

process.exitCode = await main(process.argv.slice(2));
