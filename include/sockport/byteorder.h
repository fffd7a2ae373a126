/**
 * @file sockport/byteorder.h
 * @brief Host/network byte order and unaligned big-endian access.
 *
 * Header-only and written with shifts, so it is the same on every compiler and needs no
 * platform header (htonl lives in different headers and has no 64-bit form everywhere).
 * Compilers turn these patterns into single bswap / movbe instructions. None of these
 * functions can fail.
 */
#ifndef SOCKPORT_BYTEORDER_H
#define SOCKPORT_BYTEORDER_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Read a big-endian 16-bit integer at any alignment.
 * @param p the first of 2 bytes.
 * @return the value in host order.
 */
static inline uint16_t sp_load_be16(const void *p)
{
    const unsigned char *b = (const unsigned char *)p;
    return (uint16_t)((unsigned)b[0] << 8 | (unsigned)b[1]);
}

/**
 * Read a big-endian 32-bit integer at any alignment.
 * @param p the first of 4 bytes.
 * @return the value in host order.
 */
static inline uint32_t sp_load_be32(const void *p)
{
    const unsigned char *b = (const unsigned char *)p;
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

/**
 * Read a big-endian 64-bit integer at any alignment.
 * @param p the first of 8 bytes.
 * @return the value in host order.
 */
static inline uint64_t sp_load_be64(const void *p)
{
    const unsigned char *b = (const unsigned char *)p;
    return (uint64_t)sp_load_be32(b) << 32 | (uint64_t)sp_load_be32(b + 4);
}

/**
 * Write a 16-bit integer big-endian at any alignment.
 * @param p where the 2 bytes go.
 * @param v the value in host order.
 */
static inline void sp_store_be16(void *p, uint16_t v)
{
    unsigned char *b = (unsigned char *)p;
    b[0] = (unsigned char)(v >> 8);
    b[1] = (unsigned char)v;
}

/**
 * Write a 32-bit integer big-endian at any alignment.
 * @param p where the 4 bytes go.
 * @param v the value in host order.
 */
static inline void sp_store_be32(void *p, uint32_t v)
{
    unsigned char *b = (unsigned char *)p;
    b[0] = (unsigned char)(v >> 24);
    b[1] = (unsigned char)(v >> 16);
    b[2] = (unsigned char)(v >> 8);
    b[3] = (unsigned char)v;
}

/**
 * Write a 64-bit integer big-endian at any alignment.
 * @param p where the 8 bytes go.
 * @param v the value in host order.
 */
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

/**
 * Host to network order, 16 bits (htons).
 * @param v a value in host order.
 * @return v in network order.
 */
static inline uint16_t sp_hton16(uint16_t v)
{
    uint16_t r;
    sp_store_be16(&r, v);
    return r;
}

/**
 * Host to network order, 32 bits (htonl).
 * @param v a value in host order.
 * @return v in network order.
 */
static inline uint32_t sp_hton32(uint32_t v)
{
    uint32_t r;
    sp_store_be32(&r, v);
    return r;
}

/**
 * Host to network order, 64 bits (htonll where it exists).
 * @param v a value in host order.
 * @return v in network order.
 */
static inline uint64_t sp_hton64(uint64_t v)
{
    uint64_t r;
    sp_store_be64(&r, v);
    return r;
}

/**
 * Network to host order, 16 bits (ntohs).
 * @param v a value in network order.
 * @return v in host order.
 */
static inline uint16_t sp_ntoh16(uint16_t v)
{
    return sp_load_be16(&v);
}

/**
 * Network to host order, 32 bits (ntohl).
 * @param v a value in network order.
 * @return v in host order.
 */
static inline uint32_t sp_ntoh32(uint32_t v)
{
    return sp_load_be32(&v);
}

/**
 * Network to host order, 64 bits (ntohll where it exists).
 * @param v a value in network order.
 * @return v in host order.
 */
static inline uint64_t sp_ntoh64(uint64_t v)
{
    return sp_load_be64(&v);
}

#ifdef __cplusplus
}
#endif

#endif /* SOCKPORT_BYTEORDER_H */
