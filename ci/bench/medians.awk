# The summary of a throughput benchmark (tools/bench-throughput): reads its
# output, where each run is a line "round R LINK MBIT Mbit/s" (anywhere in
# the line: a guest's console may prefix it), passes every line through, and
# at the end prints each link's median over the rounds with two ratios to
# the first link's (the baseline, L3 WireGuard): the ratio of the medians,
# and the median of the per-round ratios.  The rounds are interleaved, so on
# a noisy machine the second is the steadier figure.  Exits 1 when no round
# was read.  A benchmark: it prints figures, asserts nothing.
{ print }

match($0, /round [0-9]+ [^ ]+ [0-9.]+ Mbit\/s/) {
	split(substr($0, RSTART, RLENGTH), f, " ")
	round = f[2]; link = f[3]
	if (!(link in runs))
		order[++links] = link
	runs[link]++
	mbit[link, runs[link]] = f[4]
	in_round[link, round] = f[4]
	if (!(round in seen)) {
		seen[round] = 1
		rounds[++nrounds] = round
	}
}

# median(list, n): the median of list[1..n] (sorted in place).
function median(list, n,    i, j, v) {
	for (i = 2; i <= n; i++) {
		v = list[i]
		for (j = i - 1; j >= 1 && list[j] > v; j--)
			list[j + 1] = list[j]
		list[j + 1] = v
	}
	return n % 2 ? list[(n + 1) / 2] : (list[n / 2] + list[n / 2 + 1]) / 2
}

END {
	if (!links) {
		print "medians.awk: no 'round R LINK MBIT Mbit/s' line in the output" > "/dev/stderr"
		exit 1
	}
	base = order[1]
	for (i = 1; i <= links; i++) {
		link = order[i]
		delete list
		for (k = 1; k <= runs[link]; k++)
			list[k] = mbit[link, k] + 0
		med[link] = median(list, runs[link])
	}
	printf "median Mbit/s over %d rounds (ratio to %s: of the medians; median of the per-round ratios):\n",
		nrounds, base
	for (i = 1; i <= links; i++) {
		link = order[i]
		delete list
		n = 0
		for (k = 1; k <= nrounds; k++) {
			round = rounds[k]
			if ((link, round) in in_round && in_round[base, round] > 0)
				list[++n] = in_round[link, round] / in_round[base, round]
		}
		ratio = med[base] > 0 ? med[link] / med[base] : 0
		printf "  %-24s %8.1f  (%.2f; %.2f)\n", link, med[link], ratio, n ? median(list, n) : 0
	}
}
