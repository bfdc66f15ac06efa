/** The statistics every bench script reports with, written once. */

/** The q-quantile of `values` (0 <= q <= 1), interpolated between the two nearest ranks. */
export function quantile(values, q) {
	const sorted = [...values].sort((a, b) => a - b);
	const pos = (sorted.length - 1) * q;
	const lo = Math.floor(pos);
	const hi = Math.ceil(pos);
	return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export const median = (values) => quantile(values, 0.5);

/**
 * A 95% confidence interval for the median of `values`, from their order statistics (no
 * assumption about their distribution): ranks n/2 -+ 0.98 sqrt(n).
 */
export function medianInterval(values) {
	const sorted = [...values].sort((a, b) => a - b);
	const n = sorted.length;
	const lo = Math.max(1, Math.floor((n - 1.96 * Math.sqrt(n)) / 2));
	const hi = Math.min(n, Math.ceil(1 + (n + 1.96 * Math.sqrt(n)) / 2));
	return [sorted[lo - 1], sorted[hi - 1]];
}
