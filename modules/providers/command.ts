/** What @pulumi/command does to a bare-metal host, as its source (v1.2.1) says. */
import type { ProviderRule } from "./rule";

export const RERUN: ProviderRule = {
  id: "command.remote.rerun",
  says:
    "A remote.Command runs its create over SSH when it is created; on any later change of its " +
    "inputs it runs update, or create again when it has none; a change of triggers replaces it " +
    "(the new one runs create); deleting it runs only its delete command, if it has one",
  source:
    "pulumi/pulumi-command v1.2.1 provider/pkg/provider/remote/commandController.go:31-91, " +
    "provider/pkg/provider/common/inputs.go:10 (triggers replaceOnChanges); " +
    "@pulumi/command 1.2.1 remote/command.js:132 (replaceOnChanges triggers[*])",
};

export const COPY: ProviderRule = {
  id: "command.remote.copy",
  says:
    "A remote.CopyToRemote copies its source over SFTP when it is created, and on an update " +
    "only when the source's hash or the remotePath changed (a changed connection alone copies " +
    "nothing); a change of triggers replaces it; deleting or replacing it leaves the remote " +
    "file where it is (it has no delete)",
  source:
    "pulumi/pulumi-command v1.2.1 provider/pkg/provider/remote/copyController.go:66-70 (no " +
    "CustomDelete), :118-154 (Create, Update's needCopy), copy.go:36-41 (triggers " +
    "replaceOnChanges); pulumi/pulumi-go-provider v1.3.0 infer/resource.go:1484-1498 (Delete " +
    "without CustomDelete does nothing)",
};

export const COMMAND_RULES = [RERUN, COPY];
