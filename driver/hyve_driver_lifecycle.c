/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* driver/hyve_driver_lifecycle.c: placeholder, being written (issue 4). */
#include "hyve-config.h"
typedef int hyve_placeholder_hyve_driver_lifecycle_t;
