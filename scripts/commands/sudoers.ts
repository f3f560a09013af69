/** avfleet sudoers — the one sudoers rule a bare-metal site's hosts grant its deploy login. */
import {
  DEFAULT_STACKS_DIR,
  listStacks,
  loadStackFile,
  stackFileName,
} from "../../modules/stacks/stack";
import { privilegeOf, sudoersRule } from "../../modules/host-payloads/metal-payload";
import { EXIT, UsageError, parseCommandArgs, type Command } from "../cli";

export const command: Command = {
  summary: "print the sudoers rule a bare-metal site's hosts need for its deploy login",
  help: `
Usage: avfleet sudoers STACK [--stacks-dir DIR]

Prints the line for /etc/sudoers.d/avfleet on every host of the bare-metal site STACK, with
the site's ssh.user: exactly the commands a host's command runs through sudo -n, each with
its arguments, no wildcard. Copy it as it is (visudo -f /etc/sudoers.d/avfleet): a rule that
grants less fails the host's command, one that grants more is a wider root grant than
avfleet needs. A site whose ssh.user is root needs no rule; the command says so on stderr
and prints nothing.

Options:
  --stacks-dir DIR  where the stack files are (default: stacks)

Examples:
  avfleet sudoers metal-sjc
  avfleet sudoers metal-sjc | sudo tee /etc/sudoers.d/avfleet.new && sudo visudo -c -f /etc/sudoers.d/avfleet.new`,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, { "stacks-dir": { type: "string" } });
    const dir = values["stacks-dir"] ?? DEFAULT_STACKS_DIR;
    if (positionals.length !== 1) {
      throw new UsageError(`expected one STACK, got ${positionals.length}`);
    }
    const [name] = positionals;
    const available = listStacks(dir);
    if (!available.includes(name)) {
      throw new UsageError(`unknown stack ${name}; stacks in ${dir}: ${available.join(", ")}`);
    }
    const file = stackFileName(dir, name);
    const { fleet } = loadStackFile(file);
    if (fleet?.kind !== "metal") {
      throw new UsageError(
        `${file}: config.avfleet:fleet.kind is ${JSON.stringify(fleet?.kind ?? null)}, expected "metal" (only a bare-metal site's hosts run a payload through sudo)`,
      );
    }
    if (privilegeOf(fleet.ssh.user) === "root") {
      process.stderr.write(
        `${name}: ssh.user is root, which runs the payload without sudo: no rule\n`,
      );
      return EXIT.ok;
    }
    process.stdout.write(`${sudoersRule(fleet.ssh.user)}\n`);
    return EXIT.ok;
  },
};
