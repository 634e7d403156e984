/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Placeholder until its owner fills it in. */
#include "hyved_remote_util.h"
