/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* driver/hyve_netdev.c: placeholder, being written (issue 4). */
#include "hyve-config.h"
typedef int hyve_placeholder_netdev_t;
