#include "spm.h"
