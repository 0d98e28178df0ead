# SPDX-License-Identifier: MIT
# bench/stats.sh — medians for the shell benchmarks (bench/http.sh,
# bench/multinode.sh), which source it.  Each repetition is one line of
# the file $f, one figure per column.

# The median of the numbers on standard input, one per line.
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# The median of column N of $f, and of column A over column B line by line.
column_median() { awk -v c="$1" '{ print $c }' "$f" | median; }
quotient_median() { awk -v a="$1" -v b="$2" '{ printf "%.4f\n", $a / $b }' "$f" | median; }
# medians NAME...: set the first NAME to the median of column 1 of $f, the
# next to column 2's, and so on.
medians() {
	_col=1
	for _name; do
		eval "$_name=\$(column_median $_col)"
		_col=$((_col + 1))
	done
}
