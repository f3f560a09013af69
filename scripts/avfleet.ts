#!/usr/bin/env -S node --import tsx
/**
 * avfleet — the media fleet's command line. Each command lives in scripts/commands/<name>.ts
 * as a thin shell over modules/; this file only dispatches.
 */
import { EXIT, EXIT_CODES_HELP, runCommand, type Command } from "./cli";

const commands: Record<string, () => Promise<{ command: Command }>> = {
  preview: () => import("./commands/preview"),
  policy: () => import("./commands/policy"),
  migrate: () => import("./commands/migrate"),
  diff: () => import("./commands/diff"),
  tune: () => import("./commands/tune"),
  scale: () => import("./commands/scale"),
  cache: () => import("./commands/cache"),
  rollout: () => import("./commands/rollout"),
  place: () => import("./commands/place"),
  observe: () => import("./commands/observe"),
  diagnose: () => import("./commands/diagnose"),
  sudoers: () => import("./commands/sudoers"),
  adopt: () => import("./commands/adopt"),
  backend: () => import("./commands/backend"),
  "upgrade-inputs": () => import("./commands/upgrade-inputs"),
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    const loaded = await Promise.all(
      Object.entries(commands).map(async ([n, load]) => [n, (await load()).command] as const),
    );
    const width = Math.max(...loaded.map(([n]) => n.length));
    process.stdout.write(
      [
        "avfleet — declare, preview, check and migrate the media fleet (offline-capable).",
        "",
        "Usage: avfleet <command> [options]   (avfleet <command> --help for more)",
        "",
        "Commands:",
        ...loaded.map(([n, c]) => `  ${n.padEnd(width)}  ${c.summary}`),
        "",
        EXIT_CODES_HELP,
        "",
      ].join("\n"),
    );
    return name ? EXIT.ok : EXIT.badInput;
  }
  const load = commands[name];
  if (!load) {
    process.stderr.write(
      `usage: unknown command "${name}", expected one of ${Object.keys(commands).join(", ")}\n`,
    );
    return EXIT.badInput;
  }
  const { command } = await load();
  if (rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(`${command.help.trim()}\n\n${EXIT_CODES_HELP}\n`);
    return EXIT.ok;
  }
  return runCommand(command, rest);
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
