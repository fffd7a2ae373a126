/*
 * sockport/byteorder.h - host/network byte order and unaligned big-endian access.
 *
 * Header-only and written with shifts, so it is the same on every compiler and needs no
 * platform header (htonl lives in different headers and has no 64-bit form everywhere).
 * Compilers turn these patterns into single bswap / movbe instructions.
 */
#ifndef SOCKPORT_BYTEORDER_H
#define SOCKPORT_BYTEORDER_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* sp_load_be16/32/64: read a big-endian integer from p, any alignment. */
static inline uint16_t sp_load_be16(const void *p)
{
    const unsigned char *b = (const unsigned char *)p;
    return (uint16_t)((unsigned)b[0] << 8 | (unsigned)b[1]);
}

static inline uint32_t sp_load_be32(const void *p)
{
    const unsigned char *b = (const unsigned char *)p;
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

static inline uint64_t sp_load_be64(const void *p)
{
    const unsigned char *b = (const unsigned char *)p;
    return (uint64_t)sp_load_be32(b) << 32 | (uint64_t)sp_load_be32(b + 4);
}

/* sp_store_be16/32/64: write v big-endian at p, any alignment. */
static inline void sp_store_be16(void *p, uint16_t v)
{
    unsigned char *b = (unsigned char *)p;
    b[0] = (unsigned char)(v >> 8);
    b[1] = (unsigned char)v;
}

static inline void sp_store_be32(void *p, uint32_t v)
{
    unsigned char *b = (unsigned char *)p;
    b[0] = (unsigned char)(v >> 24);
    b[1] = (unsigned char)(v >> 16);
    b[2] = (unsigned char)(v >> 8);
    b[3] = (unsigned char)v;
}

static inline void sp_store_be64(void *p, uint64_t v)
{
    unsigned char *b = (unsigned char *)p;
    sp_store_be32(b, (uint32_t)(v >> 32));
    sp_store_be32(b + 4, (uint32_t)v);
}

/*
 * sp_hton16/32/64 and sp_ntoh16/32/64: convert between host and network (big-endian)
 * order. The same function does both directions.
 */
static inline uint16_t sp_hton16(uint16_t v)
{
    uint16_t r;
    sp_store_be16(&r, v);
    return r;
}

static inline uint32_t sp_hton32(uint32_t v)
{
    uint32_t r;
    sp_store_be32(&r, v);
    return r;
}

static inline uint64_t sp_hton64(uint64_t v)
{
    uint64_t r;
    sp_store_be64(&r, v);
    return r;
}

static inline uint16_t sp_ntoh16(uint16_t v)
{
    return sp_load_be16(&v);
}

static inline uint32_t sp_ntoh32(uint32_t v)
{
    return sp_load_be32(&v);
}

static inline uint64_t sp_ntoh64(uint64_t v)
{
    return sp_load_be64(&v);
}

#ifdef __cplusplus
}
#endif

#endif /* SOCKPORT_BYTEORDER_H */
