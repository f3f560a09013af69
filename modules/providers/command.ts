/** What @pulumi/command does to a bare-metal host, as its own documentation says. */
import type { ProviderRule } from "./rule";

export const RERUN: ProviderRule = {
  id: "command.remote.rerun",
  says:
    "A remote.Command whose create or triggers change is replaced when it has no update " +
    "command: its create runs again, over SSH, on the live host",
  source: "pulumi/pulumi-command: @pulumi/command 1.2.1 remote/command.d.ts (CommandArgs.triggers)",
};

export const COMMAND_RULES = [RERUN];
