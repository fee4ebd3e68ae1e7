/**
 * Each tier's module (and the client library it imports) is loaded only when a config names that
 * tier: a memory + SQLite user never loads mysql2, pg, mongodb or @redis/client, and need not install
 * them (they are optional peer dependencies). A client that is not installed is a config error
 * naming the package and the command that installs it.
 */
import { TierConfigError } from '../../errors.js';

export async function loadDriver<T>(tier: string, pkg: string, importer: () => Promise<T>): Promise<T> {
  try {
    return await importer();
  } catch (error) {
    // Only the client package itself being absent is this error; anything else (a broken native
    // build, a missing dependency of the client) is reported as it is.
    const code = (error as NodeJS.ErrnoException).code;
    if (
      (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') &&
      String(error).includes(`'${pkg}'`)
    ) {
      throw new TierConfigError(
        `the ${tier} tier needs the package ${pkg}, which is not installed: npm install ${pkg}`,
        { cause: error },
      );
    }
    throw error;
  }
}
