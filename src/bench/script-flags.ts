// Flags of the stand-alone benchmark scripts (node dist/src/bench/NAME.js …): `--name value` pairs are
// taken out of the argument list as they are read, so that what is left are the positionals (models).
export type TakeFlag = (name: string, fallback: string) => string;

/** A reader over args (modified in place): each call removes `--name value` and returns the value. */
export function flagReader(args: string[]): TakeFlag {
  return (name, fallback) => {
    const i = args.indexOf(`--${name}`);
    if (i < 0) return fallback;
    const v = args[i + 1];
    if (v === undefined) throw new Error(`--${name} needs a value`);
    args.splice(i, 2);
    return v;
  };
}
