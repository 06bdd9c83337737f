/* pkt.c -- header parsing and Internet checksums (RFC 1071, RFC 1624). */
#include "examples/nf/pkt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

bool
pkt_parse(const uint8_t *frame, size_t len, struct pkt_info *info)
{
    memset(info, 0, sizeof *info);
    if (len < PKT_ETH_LEN) {
        return false;
    }
    size_t off = 12;
    uint16_t type = pkt_get16(frame + off);
    off += 2;
    if (type == PKT_ETH_P_VLAN) {
        if (len < off + 4) {
            return false;
        }
        type = pkt_get16(frame + off + 2);
        off += 4;
    }
    info->ethertype = type;
    info->l3_off = (uint16_t) off;
    if (type != PKT_ETH_P_IPV4 || len < off + 20) {
        return true;
    }

    const uint8_t *ip = frame + off;
    size_t ihl = (size_t) (ip[0] & 0x0f) * 4;
    if ((ip[0] >> 4) != 4 || ihl < 20 || len < off + ihl) {
        return true;
    }
    size_t ip_len = pkt_get16(ip + 2);
    if (ip_len < ihl) {
        return true;
    }
    if (ip_len > len - off) {
        ip_len = len - off;
    }
    info->ipv4 = true;
    info->ihl = (uint8_t) ihl;
    info->ip_len = (uint16_t) ip_len;
    info->ip_id = pkt_get16(ip + 4);
    uint16_t frag = pkt_get16(ip + 6);
    info->frag = (frag & 0x3fff) != 0;
    info->first_frag = (frag & 0x1fff) == 0;
    info->proto = ip[9];
    info->sip = pkt_get32(ip + 12);
    info->dip = pkt_get32(ip + 16);

    if (!info->first_frag) {
        return true;
    }
    size_t l4_off = off + ihl;
    size_t l4_len = ip_len - ihl;
    const uint8_t *l4 = frame + l4_off;
    switch (info->proto) {
    case PKT_IPPROTO_TCP:
        if (l4_len < 20 || (size_t) (l4[12] >> 4) * 4 < 20) {
            return true;
        }
        break;
    case PKT_IPPROTO_UDP:
    case PKT_IPPROTO_ICMP:
        if (l4_len < 8) {
            return true;
        }
        break;
    default:
        return true;
    }
    info->l4 = true;
    info->l4_off = (uint16_t) l4_off;
    if (info->proto == PKT_IPPROTO_ICMP) {
        info->icmp_type = l4[0];
        info->sport = info->dport = pkt_get16(l4 + 4);
    } else {
        info->sport = pkt_get16(l4);
        info->dport = pkt_get16(l4 + 2);
    }
    return true;
}

uint32_t
pkt_csum_add(uint32_t sum, const void *data_, size_t len)
{
    const uint8_t *data = data_;
    uint64_t acc = sum;
    size_t i = 0;
    for (; i + 1 < len; i += 2) {
        acc += (uint32_t) (data[i] << 8 | data[i + 1]);
    }
    if (i < len) {
        acc += (uint32_t) data[i] << 8;
    }
    while (acc >> 32) {
        acc = (acc & 0xffffffff) + (acc >> 32);
    }
    return (uint32_t) acc;
}

static uint32_t
csum_fold16(uint32_t sum)
{
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return sum;
}

uint16_t
pkt_csum_fold(uint32_t sum)
{
    return (uint16_t) ~csum_fold16(sum);
}

uint16_t
pkt_ipv4_csum(const uint8_t *ip, size_t ihl)
{
    uint32_t sum = pkt_csum_add(0, ip, 10);
    sum = pkt_csum_add(sum, ip + 12, ihl - 12);
    return pkt_csum_fold(sum);
}

uint16_t
pkt_l4_csum(uint32_t sip, uint32_t dip, uint8_t proto, const uint8_t *l4, size_t l4_len)
{
    uint32_t sum = (sip >> 16) + (sip & 0xffff) + (dip >> 16) + (dip & 0xffff) + proto
                   + (uint32_t) l4_len;
    size_t csum_off = proto == PKT_IPPROTO_UDP ? 6 : 16;
    sum = pkt_csum_add(sum, l4, csum_off);
    sum = pkt_csum_add(sum, l4 + csum_off + 2, l4_len - csum_off - 2);
    uint16_t csum = pkt_csum_fold(sum);
    return proto == PKT_IPPROTO_UDP && csum == 0 ? 0xffff : csum;
}

uint16_t
pkt_icmp_csum(const uint8_t *icmp, size_t len)
{
    uint32_t sum = pkt_csum_add(0, icmp, 2);
    sum = pkt_csum_add(sum, icmp + 4, len - 4);
    return pkt_csum_fold(sum);
}

void
pkt_csum_update16(uint8_t *csum, uint16_t old, uint16_t new_)
{
    /* RFC 1624 eq. 3: HC' = ~(~HC + ~m + m'). */
    uint32_t sum = (uint16_t) ~pkt_get16(csum);
    sum += (uint16_t) ~old;
    sum += new_;
    pkt_put16(csum, (uint16_t) ~csum_fold16(sum));
}

void
pkt_csum_update32(uint8_t *csum, uint32_t old, uint32_t new_)
{
    uint32_t sum = (uint16_t) ~pkt_get16(csum);
    sum += (uint16_t) ~(old >> 16);
    sum += (uint16_t) ~(old & 0xffff);
    sum += new_ >> 16;
    sum += new_ & 0xffff;
    pkt_put16(csum, (uint16_t) ~csum_fold16(sum));
}

int
pkt_parse_mac(const char *s, uint8_t mac[6])
{
    unsigned int b[6];
    char tail;
    if (!s || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4],
                     &b[5], &tail) != 6 || strlen(s) != 17) {
        return -EINVAL;
    }
    for (int i = 0; i < 6; i++) {
        mac[i] = (uint8_t) b[i];
    }
    return 0;
}

int
pkt_parse_ipv4(const char *s, uint32_t *ret_ip)
{
    struct in_addr a;
    if (!s || inet_pton(AF_INET, s, &a) != 1) {
        return -EINVAL;
    }
    *ret_ip = ntohl(a.s_addr);
    return 0;
}

const char *
pkt_ip_to_string(uint32_t ip, char *buf, size_t size)
{
    snprintf(buf, size, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff,
             ip & 0xff);
    return buf;
}
