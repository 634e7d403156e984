/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hyve_storage_io.c: placeholder (issue 5), see hyve_storage_priv.h. */
#include "hyve-config.h"

#include "hyve_storage_priv.h"
