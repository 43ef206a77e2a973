/** The product version, taken from package.json (inlined into the compiled binary). */
import packageJson from "../package.json" with { type: "json" };

export const VERSION: string = packageJson.version;
