/**
 * @pulumi/pulumi loads the TypeScript compiler and npm's arborist when it is imported, for
 * function serialization (closures, dynamic providers) that our programs never use: about
 * 0.6 s of every worker's start, and the Automation API, another 50 ms. In the worker, those
 * requires return a proxy that loads the real module on first use, so nothing changes for a
 * program that does use them.
 */
import Module from "node:module";
import { sep } from "node:path";

/** Which module requires what, by path suffix of the requiring file. */
const DEFERRED: Record<string, string> = {
  // The Automation API (driving the CLI from code), which no program uses: ~50 ms.
  "./automation": `${sep}@pulumi${sep}pulumi${sep}index.js`,
  typescript: `${sep}@pulumi${sep}pulumi${sep}typescript-shim.js`,
  "@npmcli/arborist": `${sep}@pulumi${sep}pulumi${sep}runtime${sep}closure${sep}codePaths.js`,
};

type Load = (request: string, parent: { filename?: string } | undefined, isMain: boolean) => any;

function deferred(load: () => object): object {
  let real: object | undefined;
  const target = () => (real ??= load());
  return new Proxy(
    {},
    {
      // codePaths.js wraps the module in __importStar, which would copy (and so load) it
      // unless it says it is an ES module; it only reads `Arborist` from it, later.
      get: (_, key) => (key === "__esModule" && !real ? true : Reflect.get(target(), key)),
      has: (_, key) => Reflect.has(target(), key),
      ownKeys: () => Reflect.ownKeys(target()),
      getOwnPropertyDescriptor: (_, key) => {
        const descriptor = Reflect.getOwnPropertyDescriptor(target(), key);
        return descriptor && { ...descriptor, configurable: true };
      },
    },
  );
}

export function deferUnusedSdkModules(): void {
  const modules = Module as unknown as { _load: Load };
  const load = modules._load;
  modules._load = function (this: unknown, request, parent, isMain) {
    const from = DEFERRED[request];
    if (from && parent?.filename?.endsWith(from)) {
      return deferred(() => load.call(this, request, parent, isMain));
    }
    return load.call(this, request, parent, isMain);
  };
}
