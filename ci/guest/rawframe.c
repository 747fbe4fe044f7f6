/* rawframe: send and receive whole Ethernet frames on an AF_PACKET socket.
 *
 * The guest has no Python, so the byte-exact frame checks use this helper,
 * built statically on the host by l2wg's guest.py.
 *
 *   rawframe send IFACE FILE [PAUSE_US]
 *                                     send each line of FILE (a frame in hex),
 *                                     pausing PAUSE_US microseconds after each
 *   rawframe recv IFACE MS MAX READY [MATCH]
 *                                     print each received frame as hex, one per
 *                                     line, until MAX frames or MS ms without
 *                                     one; once the socket listens write the
 *                                     receiver's pid to READY;
 *                                     with MATCH, only frames with those bytes
 *                                     (OFFSET:HEX, or just HEX for a source
 *                                     MAC), and other traffic does not count
 *                                     as a frame for the MS ms either
 *   rawframe sent IFACE MS MAX READY [MATCH]
 *                                     the same as recv, for the frames IFACE
 *                                     sends (those recv leaves out)
 *   rawframe listen IFACE MS MAX READY [MATCH]
 *                                     the same, but the MS ms count only from
 *                                     SIGUSR1 (the sender is done) or a kept
 *                                     frame after it: before that, it waits
 *                                     for as long as the sender takes
 *   rawframe fill LEN SEED ZEROS      print LEN payload bytes in hex: a pattern
 *                                     from SEED, the last ZEROS bytes zero
 *   rawframe macflood IFACE COUNT DST SEED
 *                                     send COUNT frames to DST (hex), each from
 *                                     another random unicast source address
 *   rawframe fuzz COUNT SEED MAXLEN   print COUNT random frames in hex: 14 to
 *                                     MAXLEN bytes, random unicast addresses,
 *                                     0 to 3 VLAN tags (each with 2 bytes
 *                                     behind its EtherType), random EtherType
 *                                     and payload
 *
 * Frames whose VLAN tag the kernel moved into PACKET_AUXDATA get the tag put
 * back before printing, as libpcap does, so the bytes compare exactly.
 */
#define _GNU_SOURCE		/* ppoll */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_FRAME 65536

static int die(const char *what)
{
	perror(what);
	return 2;
}

static int open_socket(const char *ifname)
{
	struct sockaddr_ll addr = { 0 };
	int one = 1, rcvbuf = 8 << 20;
	int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));

	if (fd < 0)
		return -1;
	/* A decrypted frame can keep the large buffer of the UDP packet that
	 * carried it: with the default receive buffer, a burst of ten small
	 * frames can overflow it and lose the last one.
	 */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	addr.sll_family = AF_PACKET;
	addr.sll_protocol = htons(ETH_P_ALL);
	addr.sll_ifindex = if_nametoindex(ifname);
	if (!addr.sll_ifindex) {
		errno = ENODEV;
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return -1;
	if (setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one)) < 0)
		return -1;
	return fd;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static long unhex(const char *line, unsigned char *out)
{
	long n = 0;

	while (line[0] && line[0] != '\n') {
		int hi = hexval(line[0]), lo = hexval(line[1]);

		if (hi < 0 || lo < 0 || n >= MAX_FRAME)
			return -1;
		out[n++] = hi << 4 | lo;
		line += 2;
	}
	return n;
}

static int cmd_send(const char *ifname, const char *path, long pause_us)
{
	static char line[2 * MAX_FRAME + 2];
	static unsigned char frame[MAX_FRAME];
	FILE *f = fopen(path, "r");
	int fd = open_socket(ifname);

	if (!f)
		return die(path);
	if (fd < 0)
		return die(ifname);
	while (fgets(line, sizeof(line), f)) {
		long n = unhex(line, frame);

		if (n < 0) {
			fprintf(stderr, "rawframe: bad hex line\n");
			return 2;
		}
		if (n && send(fd, frame, n, 0) != n)
			return die("send");
		if (pause_us)
			usleep(pause_us);
	}
	return 0;
}

static void print_hex(const unsigned char *p, long n)
{
	for (long i = 0; i < n; i++)
		printf("%02x", p[i]);
	putchar('\n');
	fflush(stdout);
}

/* Put a VLAN tag the kernel stripped into metadata back after the MACs. */
static long restore_vlan(unsigned char *buf, long n, struct cmsghdr *cmsg,
			 struct msghdr *msg)
{
	for (; cmsg; cmsg = CMSG_NXTHDR(msg, cmsg)) {
		struct tpacket_auxdata *aux;
		uint16_t tpid, tci;

		if (cmsg->cmsg_level != SOL_PACKET || cmsg->cmsg_type != PACKET_AUXDATA)
			continue;
		aux = (struct tpacket_auxdata *)CMSG_DATA(cmsg);
		if (!(aux->tp_status & TP_STATUS_VLAN_VALID) || n < 12)
			return n;
		tpid = htons(aux->tp_status & TP_STATUS_VLAN_TPID_VALID ?
			     aux->tp_vlan_tpid : ETH_P_8021Q);
		tci = htons(aux->tp_vlan_tci);
		memmove(buf + 16, buf + 12, n - 12);
		memcpy(buf + 12, &tpid, 2);
		memcpy(buf + 14, &tci, 2);
		return n + 4;
	}
	return n;
}

struct match {
	long offset, len;
	unsigned char bytes[MAX_FRAME];
};

/* OFFSET:HEX, or HEX alone: a source MAC address (offset 6). */
static int parse_match(const char *spec, struct match *m)
{
	const char *colon = strchr(spec, ':');

	m->offset = colon ? atol(spec) : 6;
	m->len = unhex(colon ? colon + 1 : spec, m->bytes);
	return m->len > 0 && m->offset >= 0 ? 0 : -1;
}

static int matches(const unsigned char *frame, long n, const struct match *m)
{
	return !m || (n >= m->offset + m->len &&
		      !memcmp(frame + m->offset, m->bytes, m->len));
}

/* Frames the socket itself had to drop would be misread as lost in transit. */
static void report_drops(int fd)
{
	struct tpacket_stats stats;
	socklen_t len = sizeof(stats);

	if (!getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &stats, &len) && stats.tp_drops)
		fprintf(stderr, "rawframe: the socket dropped %u frames\n", stats.tp_drops);
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

static volatile sig_atomic_t sender_done;

static void on_sender_done(int sig)
{
	(void)sig;
	sender_done = 1;
}

/* READY, written once the socket listens: the receiver's pid, for the
 * caller to send SIGUSR1 when the sender is done (ip netns exec's pid may not
 * be ours).  SIGUSR1 stays blocked except inside ppoll() (*waiting* is the
 * mask for it), so it is not missed between a look at the flag and the wait. */
static int write_ready(const char *ready, sigset_t *waiting)
{
	struct sigaction sa = { .sa_handler = on_sender_done };	/* no SA_RESTART */
	sigset_t usr1;
	FILE *f;

	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	if (sigaction(SIGUSR1, &sa, NULL) < 0 ||
	    sigprocmask(SIG_BLOCK, &usr1, waiting) < 0)
		return -1;
	sigdelset(waiting, SIGUSR1);
	f = fopen(ready, "w");
	if (!f)
		return -1;
	fprintf(f, "%ld\n", (long)getpid());
	return fclose(f);
}

/* How long to wait for the next frame, in ms; -1: for ever.  A listener's
 * quiet time starts when the sender is done, a plain receiver's at once; a
 * kept frame restarts it. */
static long wait_ms(int listen, long deadline)
{
	long left;

	if (listen && !sender_done)
		return -1;
	left = deadline - now_ms();
	return left > 0 ? left : 0;
}

static int wait_for_frame(int fd, long ms, const sigset_t *waiting)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000 };

	return ppoll(&pfd, 1, ms < 0 ? NULL : &ts, waiting);
}

static int cmd_recv(const char *ifname, int listen, int outgoing, int quiet_ms,
		    long max, const char *ready, const char *match_spec)
{
	static struct match match;
	static unsigned char buf[MAX_FRAME + 4];
	char control[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
	int fd = open_socket(ifname);
	long count = 0;
	long deadline = now_ms() + quiet_ms;
	sigset_t waiting;

	if (fd < 0)
		return die(ifname);
	if (match_spec && parse_match(match_spec, &match) < 0) {
		fprintf(stderr, "rawframe: MATCH must be OFFSET:HEX or HEX\n");
		return 2;
	}
	if (write_ready(ready, &waiting) < 0)
		return die(ready);
	while (count < max) {
		struct sockaddr_ll from;
		struct iovec iov = { .iov_base = buf, .iov_len = MAX_FRAME };
		struct msghdr msg = {
			.msg_name = &from, .msg_namelen = sizeof(from),
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = control, .msg_controllen = sizeof(control),
		};
		int was_done = sender_done;
		long n, ms = wait_ms(listen, deadline);
		int ready;

		/* Only a kept frame restarts the quiet time: other traffic on
		 * the link (a ping, neighbour discovery) must not keep the
		 * receiver waiting for ever. */
		ready = wait_for_frame(fd, ms, &waiting);
		if (ready < 0 && errno == EINTR) {
			if (sender_done && !was_done)
				deadline = now_ms() + quiet_ms;
			continue;
		}
		if (ready <= 0)
			break;
		n = recvmsg(fd, &msg, 0);
		if (n < 0)
			return die("recvmsg");
		n = restore_vlan(buf, n, CMSG_FIRSTHDR(&msg), &msg);
		if ((from.sll_pkttype == PACKET_OUTGOING) != outgoing ||
		    !matches(buf, n, match_spec ? &match : NULL))
			continue;
		print_hex(buf, n);
		count++;
		deadline = now_ms() + quiet_ms;
	}
	report_drops(fd);
	return 0;
}

static int cmd_fill(long len, unsigned seed, long zeros)
{
	unsigned char *p = calloc(1, len + 1);

	if (!p)
		return die("calloc");
	for (long i = 0; i < len - zeros; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (seed >> 16) | 1;	/* never zero: only the tail is */
	}
	print_hex(p, len);
	return 0;
}

/* A small deterministic generator: the same SEED gives the same frames. */
static unsigned long next_random(unsigned long *state)
{
	*state = *state * 6364136223846793005ul + 1442695040888963407ul;
	return *state >> 33;
}

/* A random locally administered unicast address. */
static void random_mac(unsigned char *mac, unsigned long *state)
{
	for (int i = 0; i < 6; i++)
		mac[i] = next_random(state);
	mac[0] = (mac[0] & 0xfc) | 0x02;
}

static int cmd_macflood(const char *ifname, long count, const char *dst,
			unsigned long seed)
{
	unsigned char frame[60] = { 0 };
	int fd = open_socket(ifname);

	if (fd < 0)
		return die(ifname);
	if (unhex(dst, frame) != 6) {
		fprintf(stderr, "rawframe: DST must be 6 bytes in hex\n");
		return 2;
	}
	frame[12] = 0x88;
	frame[13] = 0xb5;
	for (long i = 0; i < count; i++) {
		random_mac(frame + 6, &seed);
		if (send(fd, frame, sizeof(frame), 0) != sizeof(frame))
			return die("send");
	}
	return 0;
}

static int cmd_fuzz(long count, unsigned long seed, long maxlen)
{
	static const unsigned short tpids[] = { 0x8100, 0x88a8 };
	static unsigned char frame[MAX_FRAME];

	if (maxlen < 14 || maxlen > MAX_FRAME) {
		fprintf(stderr, "rawframe: MAXLEN must be 14 to %d\n", MAX_FRAME);
		return 2;
	}
	for (long i = 0; i < count; i++) {
		long len = 14 + next_random(&seed) % (maxlen - 13), at = 12;
		int tags = next_random(&seed) % 4;

		/* The stack drops a tagged frame with less than two bytes after
		 * the EtherType behind the tag (skb_vlan_untag): none of those.
		 */
		if (len < 16 + 4 * tags)
			tags = (len - 16) / 4 > 0 ? (len - 16) / 4 : 0;

		random_mac(frame, &seed);
		random_mac(frame + 6, &seed);
		for (int t = 0; t < tags && at + 6 <= len; t++, at += 4) {
			unsigned short tpid = tpids[next_random(&seed) % 2];
			unsigned short tci = next_random(&seed);

			frame[at] = tpid >> 8;
			frame[at + 1] = tpid;
			frame[at + 2] = tci >> 8;
			frame[at + 3] = tci;
		}
		for (; at < len; at++)
			frame[at] = next_random(&seed);
		print_hex(frame, len);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if ((argc == 4 || argc == 5) && !strcmp(argv[1], "send"))
		return cmd_send(argv[2], argv[3], argc == 5 ? atol(argv[4]) : 0);
	if ((argc == 6 || argc == 7) && (!strcmp(argv[1], "recv") ||
	    !strcmp(argv[1], "listen") || !strcmp(argv[1], "sent")))
		return cmd_recv(argv[2], !strcmp(argv[1], "listen"), !strcmp(argv[1], "sent"),
				atoi(argv[3]), atol(argv[4]), argv[5], argc == 7 ? argv[6] : NULL);
	if (argc == 5 && !strcmp(argv[1], "fill"))
		return cmd_fill(atol(argv[2]), strtoul(argv[3], NULL, 0), atol(argv[4]));
	if (argc == 6 && !strcmp(argv[1], "macflood"))
		return cmd_macflood(argv[2], atol(argv[3]), argv[4], strtoul(argv[5], NULL, 0));
	if (argc == 5 && !strcmp(argv[1], "fuzz"))
		return cmd_fuzz(atol(argv[2]), strtoul(argv[3], NULL, 0), atol(argv[4]));
	fprintf(stderr, "usage: rawframe send IFACE FILE [PAUSE_US]"
		" | recv|listen|sent IFACE MS MAX READYFILE [MATCH]"
		" | fill LEN SEED ZEROS | macflood IFACE COUNT DST SEED"
		" | fuzz COUNT SEED MAXLEN\n");
	return 2;
}
