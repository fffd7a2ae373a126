/*
 * frame_internal.h - the frame decoder's read path, shared by sp_frame_recv and the
 * server's models.
 */
#ifndef SOCKPORT_FRAME_INTERNAL_H
#define SOCKPORT_FRAME_INTERNAL_H

#include "internal.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * One read of s into decoder d: room for at least `want` bytes (sp__frame_decoder_space),
 * one recv (with MSG_DONTWAIT when dontwait, see sp__recv_dontwait), the bytes
 * committed. Returns the bytes read (> 0), 0 at the peer's end, SP_EAGAIN, a recv error,
 * or the decoder's (SP_EMSGSIZE when stopped at an oversize message, SP_ENOMEM).
 * *filled (may be NULL) says whether the read filled the room it had: the socket may
 * hold more.
 */
ptrdiff_t sp__frame_read(sp_frame_decoder *d, sp_socket_t s, size_t want, int dontwait,
                         int *filled);

/* The bytes d holds past the messages returned so far (its fed buffer's rest, or its
 * own), for a server connection switched to raw input; *p points at them until the next
 * call on d. */
size_t sp__frame_decoder_rest(const sp_frame_decoder *d, const void **p);

#ifdef __cplusplus
}
#endif

#endif /* SOCKPORT_FRAME_INTERNAL_H */
