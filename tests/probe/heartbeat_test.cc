#include "core/probe/heartbeat.h"

#include <gtest/gtest.h>
