/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The kernel's constants that several hook families use. They are macros in
 * the kernel's headers, so vmlinux.h (built from BTF) does not have them.
 */
#ifndef PODTOP_LIB_CONSTS_H
#define PODTOP_LIB_CONSTS_H

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define S_IFMT 0170000
#define S_IFREG 0100000
#define S_IFSOCK 0140000

#endif /* PODTOP_LIB_CONSTS_H */
