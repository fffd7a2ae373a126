/*
 * sockport.h - one socket API on Linux, macOS and Windows. Includes every layer.
 */
#ifndef SOCKPORT_H
#define SOCKPORT_H

#include "sockport/base.h"
#include "sockport/error.h"
#include "sockport/addr.h"
#include "sockport/socket.h"
#include "sockport/poll.h"
#include "sockport/byteorder.h"
#include "sockport/frame.h"
#include "sockport/server.h"

#endif /* SOCKPORT_H */
