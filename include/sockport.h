/**
 * @file sockport.h
 * @brief One socket API on Linux, macOS and Windows: includes every layer.
 *
 * Include this one header, or the layers you use from `sockport/`: base.h (handles,
 * init), error.h (SP_E* codes), addr.h (addresses), socket.h (the verbs), poll.h
 * (readiness), byteorder.h, frame.h (message framing) and server.h (servers).
 *
 * Every call returns a value >= 0 on success and a negative SP_E* code (::sp_error) on
 * failure. See also the @ref porting "porting guide".
 */
#ifndef SOCKPORT_H
#define SOCKPORT_H

#include "sockport/base.h"
#include "sockport/error.h"
#include "sockport/addr.h"
#include "sockport/socket.h"
#include "sockport/dial.h"
#include "sockport/poll.h"
#include "sockport/byteorder.h"
#include "sockport/frame.h"
#include "sockport/server.h"

#endif /* SOCKPORT_H */
