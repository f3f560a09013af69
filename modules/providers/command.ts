/** What @pulumi/command's local.Command does, as its source (v1.2.1) and the engine's say. */
import type { ProviderRule } from "./rule";

export const RERUN: ProviderRule = {
  id: "command.local.rerun",
  says:
    "A local.Command runs its create as `/bin/sh -c <create>` where pulumi runs (never in a " +
    "preview), in the provider's working directory, which the engine sets to the program's (the " +
    "project root when `main` is a file there), with the CLI's environment (SSH_AUTH_SOCK " +
    "included); on any later change of its inputs it runs update, or create again when it has " +
    "none; a change of triggers replaces it (the new one runs create); deleting it runs only its " +
    "delete command, if it has one",
  source:
    "pulumi/pulumi-command v1.2.1 provider/pkg/provider/local/commandController.go:34-98, " +
    "commandOutputs.go:39-81 (/bin/sh -c, cmd.Dir = os.Getwd(), os.Environ()), " +
    "provider/pkg/provider/common/inputs.go:10 (triggers replaceOnChanges); @pulumi/command " +
    "1.2.1 local/command.js:155; pulumi/pulumi pkg/engine/project.go:45-73 (getPwdMain), " +
    "sdk/go/common/resource/plugin/provider_plugin.go:287 and plugin.go:599 (cmd.Dir = pwd)",
};

export const COMMAND_RULES = [RERUN];
