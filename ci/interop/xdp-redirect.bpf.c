// SPDX-License-Identifier: GPL-2.0
/*
 * The redirect use case with XDP (ci/interop/xdp-redirect.sh): every frame
 * that reaches the device this program is attached to leaves, as it came,
 * on the device whose ifindex is REDIRECT_IFINDEX.  The check creates both
 * devices with fixed ifindexes, so the program needs no map and iproute2
 * alone attaches it (ip link set DEV xdpgeneric obj FILE sec xdp).
 * l2wg compiles one object per ifindex: clang -target bpf -DREDIRECT_IFINDEX=N.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#ifndef REDIRECT_IFINDEX
#error "compile with -DREDIRECT_IFINDEX=N"
#endif

SEC("xdp")
int redirect_to_ifindex(struct xdp_md *ctx)
{
	return bpf_redirect(REDIRECT_IFINDEX, 0);
}

char _license[] SEC("license") = "GPL";
