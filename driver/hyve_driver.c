/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hyve_driver.c: driver lifetime and thin API entry points (being written). */
#include "hyve-config.h"
#include "hyve_driver.h"
