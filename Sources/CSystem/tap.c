// Tap devices and network namespaces: the ioctl numbers and structures (<linux/if_tun.h>, struct ifreq) that
// Swift cannot import.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include "csystem.h"

const unsigned int CSYSTEM_TUN_F_CSUM = TUN_F_CSUM;
const unsigned int CSYSTEM_TUN_F_TSO4 = TUN_F_TSO4;
const unsigned int CSYSTEM_TUN_F_TSO6 = TUN_F_TSO6;
const unsigned int CSYSTEM_TUN_F_TSO_ECN = TUN_F_TSO_ECN;

int csystem_tap_open(const char *name, int vnet_header_size, int create, int persistent) {
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return -1;
    struct ifreq request;
    memset(&request, 0, sizeof(request));
    strncpy(request.ifr_name, name, IFNAMSIZ - 1);
    request.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (create ? IFF_TUN_EXCL : 0);
    if (ioctl(fd, TUNSETIFF, &request) < 0 || ioctl(fd, TUNSETVNETHDRSZ, &vnet_header_size) < 0
        || (create && persistent && ioctl(fd, TUNSETPERSIST, 1) < 0)) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int csystem_tap_set_offload(int fd, unsigned int offloads) {
    return ioctl(fd, TUNSETOFFLOAD, (unsigned long)offloads);
}

int csystem_enter_network_namespace(int namespace_fd) {
    return setns(namespace_fd, CLONE_NEWNET);
}

int csystem_unshare_network_namespace(void) {
    return unshare(CLONE_NEWNET);
}

int csystem_set_interface_up(const char *name) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct ifreq request;
    memset(&request, 0, sizeof(request));
    strncpy(request.ifr_name, name, IFNAMSIZ - 1);
    int result = ioctl(fd, SIOCGIFFLAGS, &request);
    if (result == 0) {
        request.ifr_flags |= IFF_UP;
        result = ioctl(fd, SIOCSIFFLAGS, &request);
    }
    int saved = errno;
    close(fd);
    errno = saved;
    return result;
}

int csystem_packet_socket(unsigned int interface_index) {
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_ALL));
    if (fd < 0) return -1;
    struct sockaddr_ll address;
    memset(&address, 0, sizeof(address));
    address.sll_family = AF_PACKET;
    address.sll_protocol = htons(ETH_P_ALL);
    address.sll_ifindex = (int)interface_index;
    if (bind(fd, (struct sockaddr *)&address, sizeof(address)) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}
