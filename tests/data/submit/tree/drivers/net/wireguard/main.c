// SPDX-License-Identifier: GPL-2.0
/* A stand-in for drivers/net/wireguard, for l2wg's submission tests. */

static int wg_mode;

int wg_init(void)
{
	return wg_mode;
}
