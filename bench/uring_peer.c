/*
 * uring_peer.c - the hand-written io_uring echo peer: KIND io_uring of sockport_bench_echo
 * (bench/echo_peers.c), the experiment of issue #14 (can an io_uring engine use less server
 * CPU per round trip than epoll on this protocol?). Raw system calls, no liburing; the
 * kernel's interface is documented in <linux/io_uring.h> and io_uring_setup(2),
 * io_uring_enter(2), io_uring_register(2).
 *
 * Design (what a good single-threaded io_uring server does):
 * - one ring; setup flags probed from the best down: SINGLE_ISSUER | DEFER_TASKRUN (6.1),
 *   then SINGLE_ISSUER | COOP_TASKRUN, COOP_TASKRUN, none (each with SUBMIT_ALL while the
 *   kernel takes it); a CQ 4 x the SQ;
 * - one io_uring_enter per loop iteration, which both submits what the iteration queued and
 *   waits for at least one completion; the completions are then all handled from the
 *   mapped CQ ring (no system call);
 * - a multishot accept (IORING_ACCEPT_MULTISHOT, 5.19), re-armed when it ends (or a
 *   single-shot accept re-armed after each connection where the kernel refuses it);
 * - a multishot recv per connection (IORING_RECV_MULTISHOT, 6.0) that takes its buffers
 *   from a provided buffer ring (IORING_REGISTER_PBUF_RING, 5.19): no buffer per idle
 *   connection. Without the buffer ring: single-shot recvs into the connection's own buffer;
 *   without multishot recv: single-shot recvs re-armed after each completion;
 * - replies: the whole frames of one recv go back with one IORING_OP_SEND, straight from
 *   the provided buffer (the buffer goes back to the ring when the send completes); a cut
 *   frame is assembled in the connection's buffer; what arrives while a send is in flight
 *   is queued (copied) and sent with one SEND when the one in flight completes; a partial
 *   send is resubmitted for the rest;
 * - back-pressure as the epoll peer's: over OUT_HIGH bytes queued behind the send in
 *   flight, the recv is cancelled (IORING_OP_ASYNC_CANCEL) and re-armed once the queue is
 *   in flight;
 * - buffer ring empty (-ENOBUFS ends the multishot recv): the connection waits on a list and
 *   its recv is re-armed once buffers are back;
 * - close: on an error, every request of the descriptor is cancelled (ASYNC_CANCEL_FD |
 *   CANCEL_ALL) and the connection is freed (and its descriptor closed) when the last of its
 *   requests has completed; on the peer's end of stream, what is queued is sent first.
 *
 * Memory ordering (io_uring_setup(2), "the memory barriers"): the kernel's SQ head, CQ tail
 * are read with acquire; our SQ tail, CQ head and the buffer ring's tail are published with
 * release.
 *
 * ECHO_URING_FALLBACK (a comma list: setup, pbuf, mshot) turns features off to exercise the
 * fallbacks on a kernel that has them.
 */
#include "echo_peers.h"

#include <errno.h>
#include <linux/io_uring.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#define UR_SQ     4096
#define UR_CQ     (4 * UR_SQ)
#define PB_COUNT  1024 /* provided buffers (a power of two, at most 32768) */
#define PB_SIZE   32768
#define PB_GROUP  0
#define OWN_RECV  16384               /* without the buffer ring: a connection's recv room */
#define OUT_HIGH  (HDR + MAX_PAYLOAD) /* queued output over which the recv pauses */
#define OP_ACCEPT 0u
#define OP_RECV   1u
#define OP_SEND   2u
#define OP_CANCEL 3u
#define OP_MASK   3u

typedef struct ur_conn {
    int fd;
    unsigned char recv_armed; /* a recv is in the kernel (until its last CQE) */
    unsigned char sending;    /* a send is in the kernel */
    unsigned char cancelling; /* a pause's cancel of the recv is on its way */
    unsigned char paused;     /* too much queued: no recv until it is in flight */
    unsigned char eof;        /* the peer ended: flush, then close */
    unsigned char failed;     /* an error: everything cancelled, then close */
    unsigned char starved;    /* on the list of recvs ended by an empty buffer ring */
    struct ur_conn *next_starved;
    unsigned char *rbuf; /* a cut frame rbuf[0, rlen) (without the ring: the recv buffer) */
    size_t rlen, rcap;
    unsigned char *qbuf; /* output queued behind the send in flight: qbuf[0, qlen) */
    size_t qlen, qcap;
    unsigned char *sbuf; /* the heap buffer a send from the queue is in flight from */
    size_t scap;
    const unsigned char *sp; /* the send in flight: sp[soff, slen) */
    size_t soff, slen;
    int sbid; /* the provided buffer the send in flight holds, -1: none */
} ur_conn;

typedef struct ur {
    int fd, lfd;
    unsigned *sq_khead, *sq_ktail, sq_mask, sq_entries, sq_tail;
    struct io_uring_sqe *sqes;
    unsigned *cq_khead, *cq_ktail, cq_mask;
    struct io_uring_cqe *cqes;
    struct io_uring_buf_ring *br; /* NULL: no provided buffer ring */
    unsigned char *pb;            /* the buffers: PB_COUNT x PB_SIZE */
    unsigned br_tail, pb_free;
    int mshot_accept, mshot_recv;
    ur_conn *starved, **starved_end; /* FIFO of the recvs -ENOBUFS ended */
} ur;

static int ur_sys_setup(unsigned entries, struct io_uring_params *p)
{
    return (int)syscall(__NR_io_uring_setup, entries, p);
}

static int ur_sys_enter(int fd, unsigned to_submit, unsigned min_complete, unsigned flags)
{
    return (int)syscall(__NR_io_uring_enter, fd, to_submit, min_complete, flags, NULL, 0);
}

static int ur_sys_register(int fd, unsigned op, void *arg, unsigned nr)
{
    return (int)syscall(__NR_io_uring_register, fd, op, arg, nr);
}

static uint64_t tag(const ur_conn *c, unsigned op)
{
    return (uint64_t)(uintptr_t)c | op;
}

/* Hand the queued SQEs to the kernel; wait for a completion when wait. */
static int ur_enter(ur *u, unsigned wait)
{
    unsigned pending;
    __atomic_store_n(u->sq_ktail, u->sq_tail, __ATOMIC_RELEASE);
    pending = u->sq_tail - __atomic_load_n(u->sq_khead, __ATOMIC_ACQUIRE);
    return ur_sys_enter(u->fd, pending, wait, wait ? IORING_ENTER_GETEVENTS : 0);
}

/* A zeroed SQE, or NULL when the SQ stays full even after a submission. */
static struct io_uring_sqe *ur_sqe(ur *u)
{
    struct io_uring_sqe *sqe;
    if (u->sq_tail - __atomic_load_n(u->sq_khead, __ATOMIC_ACQUIRE) >= u->sq_entries) {
        /* full: submit without waiting (rare: the SQ is larger than a loop's needs) */
        if (ur_enter(u, 0) < 0 && errno != EINTR && errno != EAGAIN && errno != EBUSY)
            return NULL;
        if (u->sq_tail - __atomic_load_n(u->sq_khead, __ATOMIC_ACQUIRE) >= u->sq_entries)
            return NULL;
    }
    sqe = &u->sqes[u->sq_tail & u->sq_mask];
    memset(sqe, 0, sizeof *sqe);
    u->sq_tail++;
    return sqe;
}

/* Give provided buffer bid back to the ring. */
static void ur_recycle(ur *u, int bid)
{
    struct io_uring_buf *b = &u->br->bufs[u->br_tail & (PB_COUNT - 1)];
    b->addr = (uint64_t)(uintptr_t)(u->pb + (size_t)bid * PB_SIZE);
    b->len = PB_SIZE;
    b->bid = (uint16_t)bid;
    u->br_tail++;
    __atomic_store_n(&u->br->tail, (uint16_t)u->br_tail, __ATOMIC_RELEASE);
    u->pb_free++;
}

static int ur_arm_accept(ur *u)
{
    struct io_uring_sqe *sqe = ur_sqe(u);
    if (sqe == NULL)
        return -1;
    sqe->opcode = IORING_OP_ACCEPT;
    sqe->fd = u->lfd;
    sqe->accept_flags = SOCK_CLOEXEC;
    sqe->ioprio = u->mshot_accept ? IORING_ACCEPT_MULTISHOT : 0;
    sqe->user_data = tag(NULL, OP_ACCEPT);
    return 0;
}

static int ur_arm_recv(ur *u, ur_conn *c)
{
    struct io_uring_sqe *sqe;
    if (u->br == NULL) { /* into the connection's own buffer, a cut frame's whole size */
        size_t need = c->rlen >= HDR ? HDR + (size_t)get_be32(c->rbuf) : HDR;
        if (need > HDR + MAX_PAYLOAD)
            return -1;
        if (ep_reserve(&c->rbuf, &c->rcap, need > c->rlen + OWN_RECV ? need : c->rlen + OWN_RECV))
            return -1;
    }
    if ((sqe = ur_sqe(u)) == NULL)
        return -1;
    sqe->opcode = IORING_OP_RECV;
    sqe->fd = c->fd;
    if (u->br != NULL) {
        sqe->flags = IOSQE_BUFFER_SELECT;
        sqe->buf_group = PB_GROUP;
        sqe->ioprio = u->mshot_recv ? IORING_RECV_MULTISHOT : 0;
    } else {
        sqe->addr = (uint64_t)(uintptr_t)(c->rbuf + c->rlen);
        sqe->len = (uint32_t)(c->rcap - c->rlen);
    }
    sqe->user_data = tag(c, OP_RECV);
    c->recv_armed = 1;
    return 0;
}

/* Arm the recv unless the connection is paused, ending, or already has one. */
static int ur_resume_recv(ur *u, ur_conn *c)
{
    if (c->recv_armed || c->paused || c->eof || c->failed || c->starved)
        return 0;
    return ur_arm_recv(u, c);
}

static int ur_send(ur *u, ur_conn *c)
{
    struct io_uring_sqe *sqe = ur_sqe(u);
    if (sqe == NULL)
        return -1;
    sqe->opcode = IORING_OP_SEND;
    sqe->fd = c->fd;
    sqe->addr = (uint64_t)(uintptr_t)(c->sp + c->soff);
    sqe->len = (uint32_t)(c->slen - c->soff);
    sqe->msg_flags = MSG_NOSIGNAL | MSG_WAITALL;
    sqe->user_data = tag(c, OP_SEND);
    c->sending = 1;
    return 0;
}

static int ur_start_send(ur *u, ur_conn *c, const unsigned char *p, size_t n, int bid)
{
    c->sp = p;
    c->soff = 0;
    c->slen = n;
    c->sbid = bid;
    return ur_send(u, c);
}

/* Send the queue when no send is in flight: it becomes the send's buffer. */
static int ur_kick(ur *u, ur_conn *c)
{
    unsigned char *b;
    size_t cap;
    if (c->sending || c->qlen == 0)
        return 0;
    b = c->sbuf;
    cap = c->scap;
    c->sbuf = c->qbuf;
    c->scap = c->qcap;
    c->qbuf = b;
    c->qcap = cap;
    if (ur_start_send(u, c, c->sbuf, c->qlen, -1) != 0)
        return -1;
    c->qlen = 0;
    return 0;
}

/* Queue whole frames p[0, n) (copied) and send them when nothing is in flight; over
 * OUT_HIGH queued, pause the recv (a multishot one is cancelled). */
static int ur_queue(ur *u, ur_conn *c, const unsigned char *p, size_t n)
{
    struct io_uring_sqe *sqe;
    if (ep_reserve(&c->qbuf, &c->qcap, c->qlen + n) != 0)
        return -1;
    memcpy(c->qbuf + c->qlen, p, n);
    c->qlen += n;
    if (ur_kick(u, c) != 0)
        return -1;
    if (c->qlen <= OUT_HIGH || c->paused)
        return 0;
    c->paused = 1;
    if (!c->recv_armed || !u->mshot_recv || c->cancelling)
        return 0; /* a single-shot recv is simply not re-armed */
    if ((sqe = ur_sqe(u)) == NULL)
        return -1;
    sqe->opcode = IORING_OP_ASYNC_CANCEL;
    sqe->addr = tag(c, OP_RECV);
    sqe->user_data = tag(NULL, OP_CANCEL);
    c->cancelling = 1;
    return 0;
}

/* Reply to the whole frames of the connection's buffer, keep the cut one. */
static int ur_on_rbuf(ur *u, ur_conn *c)
{
    ptrdiff_t done = whole_frames(c->rbuf, c->rlen);
    if (done < 0 || (done > 0 && ur_queue(u, c, c->rbuf, (size_t)done) != 0))
        return -1;
    memmove(c->rbuf, c->rbuf + done, c->rlen - (size_t)done);
    c->rlen -= (size_t)done;
    return 0;
}

/* n bytes arrived in provided buffer bid, which is ours until given back. */
static int ur_on_data(ur *u, ur_conn *c, int bid, size_t n)
{
    const unsigned char *p = u->pb + (size_t)bid * PB_SIZE;
    ptrdiff_t done;
    size_t tail;
    if (c->rlen > 0) { /* continue the cut frame */
        if (ep_reserve(&c->rbuf, &c->rcap, c->rlen + n) != 0) {
            ur_recycle(u, bid);
            return -1;
        }
        memcpy(c->rbuf + c->rlen, p, n);
        c->rlen += n;
        ur_recycle(u, bid);
        return ur_on_rbuf(u, c);
    }
    if ((done = whole_frames(p, n)) < 0 ||
        ((tail = n - (size_t)done) > 0 && ep_reserve(&c->rbuf, &c->rcap, tail) != 0)) {
        ur_recycle(u, bid);
        return -1;
    }
    if (tail > 0) { /* keep the cut frame */
        memcpy(c->rbuf, p + done, tail);
        c->rlen = tail;
    }
    if (done > 0 && !c->sending && c->qlen == 0)
        return ur_start_send(u, c, p, (size_t)done, bid); /* holds the buffer */
    if (done > 0 && ur_queue(u, c, p, (size_t)done) != 0) {
        ur_recycle(u, bid);
        return -1;
    }
    ur_recycle(u, bid);
    return 0;
}

/* Free the connection once none of its requests is in the kernel. */
static void ur_maybe_free(ur *u, ur_conn *c)
{
    ur_conn **pp;
    if (c->recv_armed || c->sending || !(c->failed || (c->eof && c->qlen == 0)))
        return;
    if (c->starved)
        for (pp = &u->starved; *pp != NULL; pp = &(*pp)->next_starved)
            if (*pp == c) {
                if ((*pp = c->next_starved) == NULL)
                    u->starved_end = pp;
                break;
            }
    if (c->sbid >= 0) /* held for a send that could not be submitted */
        ur_recycle(u, c->sbid);
    close(c->fd);
    free(c->rbuf);
    free(c->qbuf);
    free(c->sbuf);
    free(c);
}

/* An error: count it, cancel every request of the descriptor, free when they are done. */
static void ur_fail(ur *u, ur_conn *c)
{
    struct io_uring_sqe *sqe;
    count_error();
    c->failed = 1;
    if ((c->recv_armed || c->sending) && (sqe = ur_sqe(u)) != NULL) {
        sqe->opcode = IORING_OP_ASYNC_CANCEL;
        sqe->fd = c->fd;
        sqe->cancel_flags = IORING_ASYNC_CANCEL_FD | IORING_ASYNC_CANCEL_ALL;
        sqe->user_data = tag(NULL, OP_CANCEL);
    }
    ur_maybe_free(u, c);
}

static void ur_on_accept(ur *u, const struct io_uring_cqe *cqe)
{
    ur_conn *c;
    if (!(cqe->flags & IORING_CQE_F_MORE)) {
        if (cqe->res == -EINVAL && u->mshot_accept)
            u->mshot_accept = 0; /* the kernel has no multishot accept */
        if (ur_arm_accept(u) != 0)
            count_error();
    }
    if (cqe->res < 0) {
        errno = -cqe->res;
        if (errno != EINVAL && errno != ECONNABORTED && errno != EINTR && errno != EAGAIN)
            count_error(); /* out of descriptors: the run is flagged */
        return;
    }
    if ((c = (ur_conn *)calloc(1, sizeof *c)) == NULL) {
        count_error();
        close(cqe->res);
        return;
    }
    c->fd = cqe->res;
    c->sbid = -1;
    set_nodelay(c->fd);
    if (ur_arm_recv(u, c) != 0) {
        c->failed = 1;
        count_error();
        ur_maybe_free(u, c);
    }
}

static void ur_on_recv(ur *u, ur_conn *c, const struct io_uring_cqe *cqe)
{
    int more = (cqe->flags & IORING_CQE_F_MORE) != 0, r = 0;
    int bid =
        (cqe->flags & IORING_CQE_F_BUFFER) ? (int)(cqe->flags >> IORING_CQE_BUFFER_SHIFT) : -1;
    if (bid >= 0)
        u->pb_free--;
    if (!more) {
        c->recv_armed = 0;
        c->cancelling = 0;
    }
    if (c->failed) { /* being closed: drop what came */
        if (bid >= 0)
            ur_recycle(u, bid);
        ur_maybe_free(u, c);
        return;
    }
    if (cqe->res > 0) {
        if (bid >= 0)
            r = ur_on_data(u, c, bid, (size_t)cqe->res);
        else if (u->br == NULL) {
            c->rlen += (size_t)cqe->res;
            r = ur_on_rbuf(u, c);
        } else
            r = -1; /* data without a buffer: cannot happen */
        if (r == 0)
            r = ur_resume_recv(u, c);
        if (r != 0) {
            errno = EPROTO;
            ur_fail(u, c);
        }
        return;
    }
    if (bid >= 0) /* nothing in it */
        ur_recycle(u, bid);
    if (cqe->res == 0) { /* the peer ended: send what is queued, then close */
        c->eof = 1;
        ur_maybe_free(u, c);
        return;
    }
    if (cqe->res == -ENOBUFS && !more) { /* the ring ran dry: re-armed when buffers are back */
        c->starved = 1;
        c->next_starved = NULL;
        *u->starved_end = c;
        u->starved_end = &c->next_starved;
        return;
    }
    if (cqe->res == -EINVAL && u->mshot_recv && !more)
        u->mshot_recv = 0; /* the kernel has no multishot recv: single-shot from now on */
    else if (cqe->res != -ECANCELED && cqe->res != -EINTR) {
        errno = -cqe->res;
        ur_fail(u, c);
        return;
    }
    if (ur_resume_recv(u, c) != 0) { /* after a pause's cancel, or to retry */
        errno = ENOMEM;
        ur_fail(u, c);
    }
}

static void ur_on_send(ur *u, ur_conn *c, const struct io_uring_cqe *cqe)
{
    c->sending = 0;
    if (cqe->res < 0 || c->failed) {
        if (c->sbid >= 0)
            ur_recycle(u, c->sbid);
        c->sbid = -1;
        if (c->failed)
            ur_maybe_free(u, c);
        else {
            errno = -cqe->res;
            ur_fail(u, c);
        }
        return;
    }
    c->soff += (size_t)cqe->res;
    if (c->soff < c->slen) { /* partial: the rest */
        if (ur_send(u, c) != 0) {
            errno = ENOMEM;
            ur_fail(u, c);
        }
        return;
    }
    if (c->sbid >= 0)
        ur_recycle(u, c->sbid);
    c->sbid = -1;
    if (ur_kick(u, c) != 0) {
        errno = ENOMEM;
        ur_fail(u, c);
        return;
    }
    if (c->paused && c->qlen == 0) { /* the queue is in flight: read again */
        c->paused = 0;
        if (ur_resume_recv(u, c) != 0) {
            errno = ENOMEM;
            ur_fail(u, c);
            return;
        }
    }
    ur_maybe_free(u, c);
}

/* Handle every completion in the CQ ring. */
static void ur_reap(ur *u)
{
    unsigned head = *u->cq_khead, tail = __atomic_load_n(u->cq_ktail, __ATOMIC_ACQUIRE);
    while (head != tail) {
        struct io_uring_cqe cqe = u->cqes[head & u->cq_mask];
        ur_conn *c = (ur_conn *)(uintptr_t)(cqe.user_data & ~(uint64_t)OP_MASK);
        /* free the slot first: a handler may submit, and the kernel may post */
        __atomic_store_n(u->cq_khead, ++head, __ATOMIC_RELEASE);
        switch ((unsigned)(cqe.user_data & OP_MASK)) {
        case OP_ACCEPT:
            ur_on_accept(u, &cqe);
            break;
        case OP_RECV:
            ur_on_recv(u, c, &cqe);
            break;
        case OP_SEND:
            ur_on_send(u, c, &cqe);
            break;
        default: /* a cancel's own completion: its targets complete on their own */
            break;
        }
        if (head == tail)
            tail = __atomic_load_n(u->cq_ktail, __ATOMIC_ACQUIRE);
    }
}

/* Re-arm the recvs the empty buffer ring ended, oldest first, as many as buffers are back
 * (re-arming them all would have them race for the few buffers, some starving for good). */
static void ur_feed_starved(ur *u)
{
    unsigned n = u->pb_free;
    while (u->starved != NULL && n-- > 0) {
        ur_conn *c = u->starved;
        if ((u->starved = c->next_starved) == NULL)
            u->starved_end = &u->starved;
        c->starved = 0;
        if (ur_resume_recv(u, c) != 0) {
            errno = ENOMEM;
            ur_fail(u, c);
        }
    }
}

static int fallback(const char *what)
{
    const char *env = getenv("ECHO_URING_FALLBACK");
    return env != NULL && strstr(env, what) != NULL;
}

/* The ring with the best setup flags the kernel takes. 0, 1 on a failure, 2 when the kernel
 * refuses io_uring. */
static int ur_open(ur *u, struct io_uring_params *p)
{
    static const unsigned tries[] = {
#ifdef IORING_SETUP_DEFER_TASKRUN
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL,
#endif
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL,
        IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL, IORING_SETUP_SUBMIT_ALL, 0};
    size_t i = fallback("setup") ? sizeof tries / sizeof tries[0] - 1 : 0;
    for (; i < sizeof tries / sizeof tries[0]; i++) {
        memset(p, 0, sizeof *p);
        p->flags = tries[i] | IORING_SETUP_CQSIZE;
        p->cq_entries = UR_CQ;
        if ((u->fd = ur_sys_setup(UR_SQ, p)) >= 0)
            return 0;
        if (errno == ENOSYS || errno == EPERM) {
            fprintf(stderr, "echo: io_uring unavailable: io_uring_setup: %s%s\n", strerror(errno),
                    errno == EPERM ? " (kernel.io_uring_disabled, or a seccomp filter)" : "");
            return 2;
        }
        if (errno != EINVAL)
            break;
    }
    perror("echo: io_uring_setup");
    return 1;
}

static int ur_map(ur *u, const struct io_uring_params *p)
{
    size_t sq_sz = p->sq_off.array + p->sq_entries * sizeof(unsigned);
    size_t cq_sz = p->cq_off.cqes + p->cq_entries * sizeof(struct io_uring_cqe);
    unsigned char *sq, *cq;
    void *sqes;
    unsigned i, *array;
    if (p->features & IORING_FEAT_SINGLE_MMAP) /* one mapping for both rings */
        sq_sz = cq_sz = sq_sz > cq_sz ? sq_sz : cq_sz;
    sq = (unsigned char *)mmap(NULL, sq_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                               u->fd, IORING_OFF_SQ_RING);
    if (sq == MAP_FAILED)
        return -1;
    cq = sq;
    if (!(p->features & IORING_FEAT_SINGLE_MMAP) &&
        (cq = (unsigned char *)mmap(NULL, cq_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                                    u->fd, IORING_OFF_CQ_RING)) == MAP_FAILED)
        return -1;
    sqes = mmap(NULL, p->sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
                MAP_SHARED | MAP_POPULATE, u->fd, IORING_OFF_SQES);
    if (sqes == MAP_FAILED)
        return -1;
    u->sqes = (struct io_uring_sqe *)sqes;
    u->sq_khead = (unsigned *)(sq + p->sq_off.head);
    u->sq_ktail = (unsigned *)(sq + p->sq_off.tail);
    u->sq_mask = *(unsigned *)(sq + p->sq_off.ring_mask);
    u->sq_entries = p->sq_entries;
    u->sq_tail = *u->sq_ktail;
    array = (unsigned *)(sq + p->sq_off.array);
    for (i = 0; i < p->sq_entries; i++) /* SQE i always sits in slot i */
        array[i] = i;
    u->cq_khead = (unsigned *)(cq + p->cq_off.head);
    u->cq_ktail = (unsigned *)(cq + p->cq_off.tail);
    u->cq_mask = *(unsigned *)(cq + p->cq_off.ring_mask);
    u->cqes = (struct io_uring_cqe *)(cq + p->cq_off.cqes);
    return 0;
}

/* The provided buffer ring, full. 0, or -1 when the kernel has none (5.19). */
static int ur_buffers(ur *u)
{
    struct io_uring_buf_reg reg;
    void *ring, *bufs;
    int i;
    if (fallback("pbuf"))
        return -1;
    ring = mmap(NULL, PB_COUNT * sizeof(struct io_uring_buf), PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    bufs = mmap(NULL, (size_t)PB_COUNT * PB_SIZE, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (ring == MAP_FAILED || bufs == MAP_FAILED)
        return -1;
    memset(&reg, 0, sizeof reg);
    reg.ring_addr = (uint64_t)(uintptr_t)ring;
    reg.ring_entries = PB_COUNT;
    reg.bgid = PB_GROUP;
    if (ur_sys_register(u->fd, IORING_REGISTER_PBUF_RING, &reg, 1) != 0) {
        munmap(ring, PB_COUNT * sizeof(struct io_uring_buf));
        munmap(bufs, (size_t)PB_COUNT * PB_SIZE);
        return -1;
    }
    u->br = (struct io_uring_buf_ring *)ring;
    u->pb = (unsigned char *)bufs;
    for (i = 0; i < PB_COUNT; i++)
        ur_recycle(u, i);
    return 0;
}

int serve_io_uring(const char *address)
{
    struct io_uring_params p;
    struct utsname un;
    ur u;
    int rc;
    memset(&u, 0, sizeof u);
    u.starved_end = &u.starved;
    if ((rc = ur_open(&u, &p)) != 0)
        return rc;
    if (ur_map(&u, &p) != 0) {
        perror("echo: io_uring mmap");
        close(u.fd);
        return 1;
    }
    (void)ur_buffers(&u);
    u.mshot_accept = !fallback("mshot");
    u.mshot_recv = u.mshot_accept && u.br != NULL; /* multishot recv needs the buffer ring */
    if (uname(&un) != 0)
        strcpy(un.release, "?");
    printf("io_uring: kernel %s; setup%s%s%s%s; buffer ring %s; multishot accept %s, recv %s\n",
           un.release, (p.flags & IORING_SETUP_SINGLE_ISSUER) ? " SINGLE_ISSUER" : "",
#ifdef IORING_SETUP_DEFER_TASKRUN
           (p.flags & IORING_SETUP_DEFER_TASKRUN) ? " DEFER_TASKRUN" : "",
#else
           "",
#endif
           (p.flags & IORING_SETUP_COOP_TASKRUN) ? " COOP_TASKRUN" : "",
           (p.flags & IORING_SETUP_SUBMIT_ALL) ? " SUBMIT_ALL" : "", u.br != NULL ? "yes" : "no",
           u.mshot_accept ? "tried" : "off", u.mshot_recv ? "tried" : "off");
    if ((u.lfd = raw_listen(address, 0)) < 0) {
        close(u.fd);
        return 1;
    }
    catch_stop_signals(on_stop_signal);
    if (ur_arm_accept(&u) != 0) {
        count_error();
        stop_flag = 1;
    }
    while (!stop_flag) {
        if (ur_enter(&u, 1) < 0 && errno != EINTR && errno != EAGAIN && errno != EBUSY) {
            count_error();
            break;
        }
        ur_reap(&u);
        ur_feed_starved(&u);
    }
    /* connections still open are left to the exit */
    close(u.fd);
    close(u.lfd);
    return 0;
}
