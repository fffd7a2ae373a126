/*
 * test_replay_readiness.cc - what each OS answers in each situation, replayed through the
 * pure decisions of src/common/readiness.h, and the rows of the host run live.
 *
 * Each row is one OS's answer to one situation (refused connect, the peer's FIN, a reset,
 * our own shutdown(SHUT_WR), a closed descriptor, no interest), with its source beside it:
 * the OS's kernel file and function, or Microsoft's page. The replay tests check what
 * sockport makes of every row on any host. The live tests build each situation here and
 * check that the host answers what its rows say (Linux: poll(); Windows under Wine:
 * WSAPoll and select), so a table that is wrong about the host fails. docs/platforms.md
 * is the same table in prose.
 */
#include "helpers.h"

#include "readiness.h"

#ifdef _WIN32
#    include <winsock2.h>
#else
#    include <poll.h>
#endif

namespace
{

using namespace sptest;

/* Readable names for failure messages. */
std::string rbits(int r)
{
    static const char *const names[] = {"IN", "PRI", "OUT", "ERR", "HUP", "NVAL", "RDHUP"};
    std::string s;
    for (int i = 0; i < 7; i++)
        if (r & (1 << i))
            s += (s.empty() ? "" : "|") + std::string(names[i]);
    return s.empty() ? "0" : s;
}

std::string evbits(int e)
{
    static const char *const names[] = {"READ", "WRITE", "ERROR", "HUP"};
    std::string s;
    for (int i = 0; i < 4; i++)
        if (e & (1 << i))
            s += (s.empty() ? "" : "|") + std::string(names[i]);
    return s.empty() ? "0" : s;
}

enum Situation { REFUSED, PEER_FIN, PEER_RST, LOCAL_SHUT_WR, CLOSED_FD, NO_INTEREST_RST };

const char *situation_name(Situation s)
{
    static const char *const names[] = {"refused connect", "peer FIN",  "peer RST",
                                        "our SHUT_WR",     "closed fd", "no interest, RST"};
    return names[s];
}

constexpr int NONE = SP__PEEK_NONE, PEEK_ERROR = SP__PEEK_ERROR, PEEK_EOF = SP__PEEK_EOF,
              PEEK_EMPTY = SP__PEEK_EMPTY;
constexpr int RD = SP_EV_READ, WR = SP_EV_WRITE, ER = SP_EV_ERROR, HU = SP_EV_HUP;
constexpr int R_IN = SP__R_IN, R_PRI = SP__R_PRI, R_OUT = SP__R_OUT, R_ERR = SP__R_ERR,
              R_HUP = SP__R_HUP, R_NVAL = SP__R_NVAL;

/* ---- poll() and WSAPoll ---------------------------------------------------------------- */

enum Os { LINUX, XNU, FREEBSD, WINDOWS, WINE };

struct PollRow {
    Os os;
    Situation sit;
    int asked;   /* SP_EV_READ | SP_EV_WRITE */
    int revents; /* SP__R_*: what the OS answers */
    int peek;    /* what recv(MSG_PEEK) finds then, when sp__poll_wants_peek */
    int want;    /* what sockport reports (sp__poll_revents_to_events) */
    const char *source;
};

int hup_kind(Os os)
{
    return os == XNU || os == WINDOWS || os == WINE ? SP__HUP_EOF : SP__HUP_BOTH;
}

/*
 * Linux rows: net/ipv4/tcp.c tcp_poll (POLLERR for sk_err; POLLHUP when both directions
 * are shut or the socket is closed; POLLIN | POLLRDHUP on RCV_SHUTDOWN; POLLOUT when
 * SEND_SHUTDOWN), and checked live below.
 * XNU rows: bsd/kern/sys_generic.c poll (an EV_ONESHOT knote per asked direction; none
 * for events 0; POLLNVAL when registering fails) and poll_callback (EV_EOF -> POLLHUP,
 * POLLOUT not added once POLLHUP is set); bsd/kern/uipc_socket.c filt_soread_common
 * (EV_EOF on SS_CANTRCVMORE) and filt_sowrite_common (EV_EOF on SS_CANTSENDMORE, which a
 * refused connect, a reset and our own shutdown(SHUT_WR) set). Where two knotes fire, the
 * order decides whether POLLOUT is there: both orders are rows.
 * FreeBSD rows: sys/kern/uipc_socket.c sopoll_generic (POLLIN on SBS_CANTRCVMORE, POLLHUP
 * only with SBS_CANTSENDMORE too, POLLHUP even when not asked, never POLLERR) and sowriteable
 * (true on SBS_CANTSENDMORE or so_error).
 * Windows rows: the WSAPoll and WSAPOLLFD pages (POLLHUP "disconnected or aborted", POLLERR
 * "an error has occurred"); the failed-connect row is the behaviour from build 19041
 * (Windows 10 2004), before which WSAPoll reports nothing (the reason sockport refuses
 * WSAPoll there). Wine rows: Wine 8 live (shared/wine-notes.md), checked live below. Wine
 * answers the peer's FIN alone with POLLHUP (the write side still open), so POLLHUP is
 * read there as on XNU: SP__HUP_EOF.
 */
const PollRow poll_rows[] = {
    /* refused connect */
    {LINUX, REFUSED, WR, R_OUT | R_ERR | R_HUP, NONE, WR | ER | HU,
     "Linux tcp_poll: sk_err, TCP_CLOSE"},
    {LINUX, REFUSED, RD | WR, R_IN | R_OUT | R_ERR | R_HUP, NONE, RD | WR | ER | HU,
     "Linux tcp_poll"},
    {XNU, REFUSED, WR, R_HUP, PEEK_ERROR, WR | ER | HU,
     "XNU poll_callback: EVFILT_WRITE EV_EOF, no POLLOUT after POLLHUP; soreceive MSG_PEEK "
     "keeps so_error"},
    {XNU, REFUSED, RD | WR, R_IN | R_HUP, PEEK_ERROR, RD | WR | ER | HU,
     "XNU poll_callback: EVFILT_READ EV_EOF"},
    {FREEBSD, REFUSED, WR, R_OUT | R_HUP, PEEK_ERROR, WR | ER | HU,
     "FreeBSD sopoll_generic, sowriteable (no POLLERR); soreceive_stream MSG_PEEK"},
    {WINDOWS, REFUSED, WR, R_OUT | R_ERR | R_HUP, NONE, WR | ER, "WSAPoll page; Windows 10 2004+"},
    {WINE, REFUSED, WR, R_ERR, NONE, WR | ER, "Wine 8, live"},
    /* the peer's FIN (it shut down writing) */
    {WINE, PEER_FIN, RD, R_HUP, NONE, RD, "Wine 8, live: POLLHUP alone, no POLLRDNORM"},
    {WINE, PEER_FIN, RD | WR, R_OUT | R_HUP, NONE, RD | WR,
     "Wine 8, live: the write side stays open"},
    {LINUX, PEER_FIN, RD, R_IN, NONE, RD, "Linux tcp_poll: RCV_SHUTDOWN -> POLLIN"},
    {LINUX, PEER_FIN, RD | WR, R_IN | R_OUT, NONE, RD | WR, "Linux tcp_poll"},
    {XNU, PEER_FIN, RD, R_IN | R_HUP, PEEK_EOF, RD,
     "XNU poll_callback: EVFILT_READ EV_EOF -> POLLIN|POLLHUP"},
    {XNU, PEER_FIN, RD | WR, R_IN | R_HUP, PEEK_EOF, RD | WR,
     "XNU poll_callback: read knote first"},
    {XNU, PEER_FIN, RD | WR, R_IN | R_OUT | R_HUP, PEEK_EOF, RD | WR,
     "XNU poll_callback: write knote first"},
    {FREEBSD, PEER_FIN, RD, R_IN, NONE, RD, "FreeBSD sopoll_generic: SBS_CANTRCVMORE -> POLLIN"},
    {FREEBSD, PEER_FIN, RD | WR, R_IN | R_OUT, NONE, RD | WR, "FreeBSD sopoll_generic"},
    /* a reset from the peer */
    {LINUX, PEER_RST, RD, R_IN | R_ERR | R_HUP, NONE, RD | ER | HU,
     "Linux tcp_poll: sk_err, TCP_CLOSE"},
    {XNU, PEER_RST, RD, R_IN | R_HUP, PEEK_ERROR, RD | ER | HU,
     "XNU filt_soread_common: EV_EOF (fflags ECONNRESET)"},
    {FREEBSD, PEER_RST, RD, R_IN | R_HUP, PEEK_ERROR, RD | ER | HU,
     "FreeBSD sopoll_generic: both directions over"},
    {WINE, PEER_RST, RD, R_ERR | R_HUP, NONE, RD | ER, "Wine 8, live"},
    /* our own shutdown(SHUT_WR) */
    {WINE, LOCAL_SHUT_WR, RD | WR, R_OUT, NONE, WR, "Wine 8, live"},
    {LINUX, LOCAL_SHUT_WR, RD, 0, NONE, 0, "Linux tcp_poll: SEND_SHUTDOWN alone is no POLLHUP"},
    {LINUX, LOCAL_SHUT_WR, RD | WR, R_OUT, NONE, WR, "Linux tcp_poll: SEND_SHUTDOWN -> POLLOUT"},
    {XNU, LOCAL_SHUT_WR, RD, 0, NONE, 0, "XNU poll: no write knote when POLLOUT is not asked"},
    {XNU, LOCAL_SHUT_WR, RD | WR, R_HUP, PEEK_EMPTY, WR,
     "XNU filt_sowrite_common: SS_CANTSENDMORE -> EV_EOF -> POLLHUP; the read side is open"},
    {FREEBSD, LOCAL_SHUT_WR, RD | WR, R_OUT, NONE, WR, "FreeBSD sowriteable: SBS_CANTSENDMORE"},
    /* a descriptor closed before the call */
    {LINUX, CLOSED_FD, RD, R_NVAL, NONE, RD | ER, "Linux do_pollfd: POLLNVAL"},
    {XNU, CLOSED_FD, RD, R_NVAL, NONE, RD | ER, "XNU poll: kevent_register fails -> POLLNVAL"},
    /* no interest (events 0), after a reset */
    {LINUX, NO_INTEREST_RST, 0, R_ERR | R_HUP, NONE, ER | HU,
     "Linux: POLLERR/POLLHUP are never masked"},
    {XNU, NO_INTEREST_RST, 0, 0, NONE, 0, "XNU poll: events 0 registers no knote"},
    {FREEBSD, NO_INTEREST_RST, 0, R_HUP, PEEK_ERROR, ER | HU,
     "FreeBSD sopoll_generic: POLLHUP not masked"},
};

TEST(ReplayPoll, EveryRowMeansWhatTheTableSays)
{
    for (const PollRow &row : poll_rows) {
        EXPECT_EQ(row.peek != NONE,
                  sp__poll_wants_peek(row.revents) && row.os != WINDOWS && row.os != WINE)
            << situation_name(row.sit) << ": a peek where the backend peeks (" << row.source << ")";
        int got = sp__poll_revents_to_events(row.revents, row.asked, hup_kind(row.os), row.peek);
        EXPECT_EQ(evbits(row.want), evbits(got))
            << situation_name(row.sit) << ", asked " << evbits(row.asked) << ", revents "
            << rbits(row.revents) << " (" << row.source << ")";
    }
}

TEST(ReplayPoll, XnuRefusedConnectIsNotATimeout)
{
    /* the bug this table exists for: POLLHUP alone, read as Linux reads it, ready for nothing */
    EXPECT_EQ(WR | ER | HU, sp__poll_revents_to_events(R_HUP, WR, SP__HUP_EOF, SP__PEEK_ERROR));
    EXPECT_EQ(RD, sp__poll_revents_to_events(R_IN | R_HUP, RD, SP__HUP_EOF, SP__PEEK_EOF))
        << "a peer's orderly close on XNU is no error and no hang-up";
}

/* ---- sp_select over poll() --------------------------------------------------------------- */

struct SlotRow {
    Os os;
    Situation sit;
    int set;     /* SP__SET_* */
    int revents; /* what poll() answers for the socket (all its sets' events asked) */
    unsigned want;
    const char *source;
};

constexpr unsigned READY = SP__SLOT_READY, ERROR_ = SP__SLOT_ERROR, IF_ERROR = SP__SLOT_IF_ERROR,
                   BADF = SP__SLOT_BADF;

const SlotRow slot_rows[] = {
    {LINUX, REFUSED, SP__SET_WR, R_OUT | R_ERR | R_HUP, READY | ERROR_, "Linux tcp_poll"},
    {LINUX, REFUSED, SP__SET_EX, R_ERR | R_HUP, READY | ERROR_, "Linux tcp_poll"},
    {XNU, REFUSED, SP__SET_WR, R_HUP, READY | ERROR_, "XNU poll_callback: POLLHUP alone"},
    {XNU, REFUSED, SP__SET_EX, R_PRI | R_HUP, IF_ERROR,
     "XNU poll_callback: POLLPRI rides along with an EVFILT_READ EV_EOF"},
    {FREEBSD, REFUSED, SP__SET_WR, R_OUT | R_HUP, READY | ERROR_, "FreeBSD sopoll_generic"},
    {LINUX, PEER_FIN, SP__SET_RD, R_IN, READY, "Linux tcp_poll"},
    {XNU, PEER_FIN, SP__SET_RD, R_IN | R_HUP, READY, "XNU poll_callback"},
    {XNU, PEER_FIN, SP__SET_EX, R_PRI | R_HUP, IF_ERROR,
     "XNU poll_callback: an orderly close is not out-of-band data"},
    {LINUX, PEER_RST, SP__SET_RD, R_IN | R_ERR | R_HUP, READY | ERROR_, "Linux tcp_poll"},
    {FREEBSD, PEER_RST, SP__SET_RD, R_IN | R_HUP, READY, "FreeBSD sopoll_generic"},
    {LINUX, CLOSED_FD, SP__SET_RD, R_NVAL, READY | BADF, "Linux do_pollfd"},
};

TEST(ReplaySelectOverPoll, EveryRowMeansWhatTheTableSays)
{
    for (const SlotRow &row : slot_rows) {
        unsigned got = sp__poll_slot(row.revents, row.set, hup_kind(row.os));
        EXPECT_EQ(row.want, got) << situation_name(row.sit) << ", set " << row.set << ", revents "
                                 << rbits(row.revents) << " (" << row.source << ")";
    }
}

/* ---- kqueue -------------------------------------------------------------------------------- */

struct KeventIn {
    int filter;     /* SP__KQ_READ / SP__KQ_WRITE */
    unsigned flags; /* SP__KQ_EOF / SP__KQ_ERROR */
    long long fflags;
};

struct KqRow {
    Os os;
    Situation sit;
    int interest;
    KeventIn k[2];
    int nk;
    int want;
    const char *source;
};

/* errno values are not the point: any non-zero so_error is an error (61 = ECONNREFUSED and
 * 54 = ECONNRESET on XNU and FreeBSD). */
const KqRow kq_rows[] = {
    {XNU,
     REFUSED,
     WR,
     {{SP__KQ_WRITE, SP__KQ_EOF, 61}},
     1,
     WR | ER,
     "XNU filt_sowrite_common: EV_EOF, fflags = so_error"},
    {FREEBSD,
     REFUSED,
     WR,
     {{SP__KQ_WRITE, SP__KQ_EOF, 61}},
     1,
     WR | ER,
     "FreeBSD filt_sowrite: EV_EOF, fflags = so_error"},
    {XNU,
     REFUSED,
     RD | WR,
     {{SP__KQ_READ, SP__KQ_EOF, 61}, {SP__KQ_WRITE, SP__KQ_EOF, 61}},
     2,
     RD | WR | ER | HU,
     "XNU filt_soread_common + filt_sowrite_common"},
    {XNU, PEER_FIN, RD, {{SP__KQ_READ, SP__KQ_EOF, 0}}, 1, RD, "XNU filt_soread_common"},
    {XNU,
     PEER_FIN,
     RD | WR,
     {{SP__KQ_READ, SP__KQ_EOF, 0}, {SP__KQ_WRITE, 0, 0}},
     2,
     RD | WR,
     "XNU: the write side is still open"},
    {XNU, PEER_RST, RD, {{SP__KQ_READ, SP__KQ_EOF, 54}}, 1, RD | ER, "XNU filt_soread_common"},
    {FREEBSD, PEER_RST, RD, {{SP__KQ_READ, SP__KQ_EOF, 54}}, 1, RD | ER, "FreeBSD filt_soread"},
    /* issue #12 item 10: not R_HUP, not READ; epoll reports EPOLLOUT here */
    {XNU,
     LOCAL_SHUT_WR,
     RD | WR,
     {{SP__KQ_WRITE, SP__KQ_EOF, 0}},
     1,
     WR,
     "XNU filt_sowrite_common: SS_CANTSENDMORE from our own shutdown"},
    {FREEBSD,
     LOCAL_SHUT_WR,
     RD,
     {{SP__KQ_WRITE, SP__KQ_EOF, 0}},
     1,
     0,
     "FreeBSD filt_sowrite: a disabled filter would not fire; and if it did, no READ"},
    {XNU,
     PEER_FIN,
     RD | WR,
     {{SP__KQ_READ, SP__KQ_EOF, 0}, {SP__KQ_WRITE, SP__KQ_EOF, 0}},
     2,
     RD | WR | HU,
     "both directions over, no error: HUP as epoll means it"},
};

TEST(ReplayKqueue, EveryRowMeansWhatTheTableSays)
{
    for (const KqRow &row : kq_rows) {
        int merged = 0;
        for (int i = 0; i < row.nk; i++)
            merged |= sp__kevent_to_events(row.k[i].filter, row.k[i].flags, row.k[i].fflags,
                                           row.interest);
        int got = sp__kevent_finish(merged, row.interest);
        EXPECT_EQ(evbits(row.want), evbits(got))
            << situation_name(row.sit) << ", interest " << evbits(row.interest) << " ("
            << row.source << ")";
    }
}

TEST(ReplayKqueue, ChangeErrorIsAnError)
{
    EXPECT_EQ(ER,
              sp__kevent_finish(sp__kevent_to_events(SP__KQ_READ, SP__KQ_ERROR, 9, RD), RD) & ER);
}

/* ---- select ------------------------------------------------------------------------------ */

constexpr unsigned HIT_RD = 1, HIT_WR = 2, HIT_EX = 4;

struct WinselRow {
    Os os;
    Situation sit;
    unsigned hits;       /* the fd_sets select left the socket in (asked in all three) */
    int error;           /* its SO_ERROR */
    unsigned want_ready; /* the sets in which sp_select reports it ready */
    const char *source;
};

/* POSIX select lists a failed connect in the write set; Windows in exceptfds only. */
const WinselRow winsel_rows[] = {
    {WINDOWS, REFUSED, HIT_EX, SP_ECONNREFUSED, HIT_RD | HIT_WR | HIT_EX,
     "select page: exceptfds \"connection attempt failed\""},
    {WINE, REFUSED, HIT_EX, SP_ECONNREFUSED, HIT_RD | HIT_WR | HIT_EX, "Wine 8, live"},
    {WINDOWS, PEER_FIN, HIT_RD | HIT_WR, 0, HIT_RD | HIT_WR,
     "select page: readfds \"connection has been closed\""},
};

TEST(ReplayWindowsSelect, EveryRowMeansWhatTheTableSays)
{
    for (const WinselRow &row : winsel_rows) {
        unsigned got = 0;
        for (unsigned bit : {HIT_RD, HIT_WR, HIT_EX})
            if (sp__winsel_ready(row.hits, bit, 0, row.error))
                got |= bit;
        EXPECT_EQ(row.want_ready, got) << situation_name(row.sit) << " (" << row.source << ")";
    }
}

TEST(ReplaySelectPoller, OutOfBandAloneIsNoError)
{
    EXPECT_EQ(0, sp__select_to_events(0, 0, 1, 0, RD | WR));
    EXPECT_EQ(WR | ER, sp__select_to_events(0, 0, 1, 1, WR));
    EXPECT_EQ(RD | WR | ER, sp__select_to_events(1, 0, 1, 1, RD | WR));
}

/* ---- live: the host's own rows ------------------------------------------------------------ */

class LiveReplay : public SpTest
{
  protected:
    /* Build `sit` on a; b is its peer (if any). Returns false (with a failure) if not. */
    bool make(Situation sit, Sock &a, Sock &b)
    {
        switch (sit) {
        case REFUSED: {
            int rc = 0;
            if (!start_refused_connect(a, &rc) || (rc != 0 && rc != SP_EINPROGRESS)) {
                ADD_FAILURE() << "refused connect: " << code_str(rc);
                return false;
            }
            return true;
        }
        case PEER_FIN:
        case PEER_RST:
        case LOCAL_SHUT_WR:
        case NO_INTEREST_RST:
            if (!tcp_pair(a, b)) {
                ADD_FAILURE() << "tcp_pair";
                return false;
            }
            if (sit == PEER_FIN)
                EXPECT_OK(sp_shutdown(b, SP_SHUT_WR));
            else if (sit == LOCAL_SHUT_WR)
                EXPECT_OK(sp_shutdown(a, SP_SHUT_WR));
            else
                EXPECT_OK(sp_close_abortive(b.release()));
            sleep_ms(100); /* let the FIN or RST arrive */
            return true;
        case CLOSED_FD:
            EXPECT_OK(sp_socket_open(a.out(), SP_AF_INET, SP_SOCK_STREAM));
            return true;
        }
        return false;
    }
};

#ifndef _WIN32
int native_to_r(short re)
{
    return ((re & POLLIN) ? SP__R_IN : 0) | ((re & POLLPRI) ? SP__R_PRI : 0) |
           ((re & POLLOUT) ? SP__R_OUT : 0) | ((re & POLLERR) ? SP__R_ERR : 0) |
           ((re & POLLHUP) ? SP__R_HUP : 0) | ((re & POLLNVAL) ? SP__R_NVAL : 0);
}

/* poll() once on a, asked `asked`, waiting up to the first answer. */
int live_poll(sp_socket_t s, int asked, int timeout_ms)
{
    struct pollfd p;
    p.fd = s;
    p.events = (short)(((asked & RD) ? POLLIN : 0) | ((asked & WR) ? POLLOUT : 0));
    p.revents = 0;
    int n = poll(&p, 1, timeout_ms);
    return n < 0 ? -1 : native_to_r(p.revents);
}

TEST_F(LiveReplay, LinuxPollRowsAreWhatLinuxAnswers)
{
#    ifndef __linux__
    GTEST_SKIP() << "the live rows are Linux's";
#    endif
    int checked = 0;
    for (const PollRow &row : poll_rows) {
        if (row.os != LINUX)
            continue;
        Sock a, b;
        if (!make(row.sit, a, b))
            continue;
        sp_socket_t s = a.get();
        if (row.sit == CLOSED_FD)
            a.reset(); /* s is now a closed descriptor (nothing else opens one meanwhile) */
        int got = live_poll(s, row.asked, row.sit == REFUSED ? 3000 : 200);
        EXPECT_EQ(rbits(row.revents), rbits(got)) << situation_name(row.sit) << ", asked "
                                                  << evbits(row.asked) << " (" << row.source << ")";
        /* and what the poll backend makes of the live answer is the row's */
        EXPECT_FALSE(sp__poll_wants_peek(got)) << "Linux pairs POLLHUP with POLLERR here";
        EXPECT_EQ(evbits(row.want),
                  evbits(sp__poll_revents_to_events(got, row.asked, SP__HUP_BOTH, NONE)));
        checked++;
    }
    EXPECT_GE(checked, 8);
}

/* Every Linux poller backend reports each live situation as the poll row says (select
 * cannot say SP_EV_HUP: documented). */
TEST_F(LiveReplay, LinuxBackendsAgreeWithTheRows)
{
#    ifndef __linux__
    GTEST_SKIP() << "the live rows are Linux's";
#    endif
    for (int backend : {SP_POLLER_EPOLL, SP_POLLER_POLL, SP_POLLER_SELECT}) {
        for (const PollRow &row : poll_rows) {
            if (row.os != LINUX || row.sit == CLOSED_FD)
                continue;
            Sock a, b;
            if (!make(row.sit, a, b))
                continue;
            sp_poller *p = nullptr;
            ASSERT_OK(sp_poller_create(&p, backend));
            ASSERT_OK(sp_poller_add(p, a, row.asked, nullptr));
            sp_event ev[2];
            int n = sp_poller_wait(p, ev, 2, row.want == 0 ? 100 : 3000);
            int got = n > 0 ? ev[0].events : 0;
            int want = backend == SP_POLLER_SELECT ? row.want & ~HU : row.want;
            EXPECT_EQ(evbits(want), evbits(got))
                << sp_poller_backend_name(backend) << ": " << situation_name(row.sit) << ", asked "
                << evbits(row.asked);
            sp_poller_destroy(p);
        }
    }
}
#else
int native_to_r(SHORT re)
{
    return ((re & (POLLRDNORM | POLLRDBAND)) ? SP__R_IN : 0) | ((re & POLLWRNORM) ? SP__R_OUT : 0) |
           ((re & POLLERR) ? SP__R_ERR : 0) | ((re & POLLHUP) ? SP__R_HUP : 0) |
           ((re & POLLNVAL) ? SP__R_NVAL : 0);
}

TEST_F(LiveReplay, WinePollRowsAreWhatWineAnswers)
{
    if (!is_wine())
        GTEST_SKIP() << "the live WSAPoll rows are Wine's; Windows' are replayed";
    int checked = 0;
    for (const PollRow &row : poll_rows) {
        if (row.os != WINE)
            continue;
        Sock a, b;
        if (!make(row.sit, a, b))
            continue;
        WSAPOLLFD p;
        p.fd = (SOCKET)a.get();
        p.events =
            (SHORT)(((row.asked & RD) ? POLLRDNORM : 0) | ((row.asked & WR) ? POLLWRNORM : 0));
        p.revents = 0;
        int n = WSAPoll(&p, 1, 3000);
        ASSERT_GE(n, 0) << WSAGetLastError();
        int got = native_to_r(p.revents);
        EXPECT_EQ(rbits(row.revents), rbits(got))
            << situation_name(row.sit) << " (" << row.source << ")";
        EXPECT_EQ(evbits(row.want),
                  evbits(sp__poll_revents_to_events(got, row.asked, SP__HUP_EOF, NONE)));
        checked++;
    }
    EXPECT_GE(checked, 5);
}

TEST_F(LiveReplay, WineSelectRowsAreWhatWineAnswers)
{
    if (!is_wine())
        GTEST_SKIP() << "the live select rows are Wine's; Windows' are replayed";
    int checked = 0;
    for (const WinselRow &row : winsel_rows) {
        if (row.os != WINE)
            continue;
        Sock a, b;
        if (!make(row.sit, a, b))
            continue;
        fd_set rd, wr, ex;
        FD_ZERO(&rd);
        FD_ZERO(&wr);
        FD_ZERO(&ex);
        FD_SET((SOCKET)a.get(), &rd);
        FD_SET((SOCKET)a.get(), &wr);
        FD_SET((SOCKET)a.get(), &ex);
        timeval tv = {3, 0};
        ASSERT_GT(select(0, &rd, &wr, &ex, &tv), 0);
        unsigned hits = (FD_ISSET((SOCKET)a.get(), &rd) ? HIT_RD : 0u) |
                        (FD_ISSET((SOCKET)a.get(), &wr) ? HIT_WR : 0u) |
                        (FD_ISSET((SOCKET)a.get(), &ex) ? HIT_EX : 0u);
        EXPECT_EQ(row.hits, hits) << situation_name(row.sit) << " (" << row.source << ")";
        checked++;
    }
    EXPECT_GE(checked, 1);
}
#endif

} // namespace
