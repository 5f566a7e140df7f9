// The standard error names live with every other name of the specification.
#pragma once

#include "kbus/dbus_names.hpp"
