/**
 * The gpu flavour's module: the RAPIDS Accelerator's jar comes from the matrix (`flavours.gpu.lines.<track>.jars`);
 * this module checks the line's `shim` setting and gives the templates the shims-provider override the
 * line needs. Pure.
 */
import type { FlavourModule } from './index.ts';

/** The RAPIDS shim named after a Spark version, as the jar's folders are: `3.4.4` → `spark344`. */
export const exactShim = (spark: string) => `spark${spark.split('.').join('')}`;

/**
 * The shims-provider override a line needs: the provider class of its shim when that is not the
 * line's own version (the plugin matches Spark's version exactly and refuses any other unless told
 * which shim to use), else undefined.
 */
export function shimOverride(spark: string, shim: string | undefined): string | undefined {
  if (!shim || shim === exactShim(spark)) return undefined;
  return `com.nvidia.spark.rapids.shims.${shim}.SparkShimServiceProvider`;
}

export const flavour: FlavourModule = {
  validate(cell) {
    const where = `flavours.${cell.flavour.name}.lines.${cell.line.track}`;
    const p: string[] = [];
    const { jars, settings } = cell.inputs;
    if (jars.length !== 1) p.push(`${where}.jars must name the one RAPIDS jar of the line (it has ${jars.length})`);
    if (!/^spark\d{3}$/.test(settings.shim ?? '')) p.push(`${where}.settings.shim must name the jar's shim for this Spark (sparkNNN)`);
    for (const k of Object.keys(settings)) if (k !== 'shim') p.push(`${where}.settings.${k} is not a known key`);
    return p;
  },
  context(cell) {
    const jar = cell.inputs.jars[0]!;
    return { rapids: { ...jar, shim: cell.inputs.settings.shim }, shimOverride: shimOverride(cell.line.spark, cell.inputs.settings.shim) };
  },
};
