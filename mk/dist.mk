# dist: the MPI layer beside libattn (build/libattn_dist.a), linked into the attn command.
# MPI=auto (default) uses OpenMPI when mpicc is found; MPI=0 builds the single-process version;
# MPI=1 requires MPI.
MPI ?= auto
ifeq ($(MPI),auto)
DIST_MPI := $(HAVE_MPI)
else ifeq ($(MPI),1)
DIST_MPI := 1
ifneq ($(HAVE_MPI),1)
$(error MPI=1 but mpicc was not found: install libopenmpi-dev and openmpi-bin)
endif
else
DIST_MPI :=
endif

ifeq ($(DIST_MPI),1)
DIST_SRC := dist/dist_mpi.c dist/ring.c
DIST_CFLAGS := $(shell mpicc --showme:compile)
DIST_LIBS := $(shell mpicc --showme:link)
else
DIST_SRC := dist/dist_single.c dist/ring.c
DIST_CFLAGS :=
DIST_LIBS :=
endif
DIST_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(DIST_SRC))
$(DIST_OBJ): CFLAGS_ALL += $(DIST_CFLAGS) -Idist
$(BUILD)/libattn_dist.a: $(DIST_OBJ)
	@rm -f $@
	ar rcs $@ $^
CLI_EXTRA += $(BUILD)/libattn_dist.a
CLI_LDLIBS += $(DIST_LIBS)
$(BUILD)/obj/tools/attn/%.o: CFLAGS_ALL += -Idist
DEPS += $(DIST_OBJ:.o=.d)

# MPI test programs (scripts/test.d/mpi.sh runs them under mpirun)
ifeq ($(DIST_MPI),1)
$(BUILD)/test_dist: tests/mpi/test_dist.c $(BUILD)/libattn_dist.a $(BUILD)/libattn.a
	$(CC) $(CFLAGS_ALL) $(DIST_CFLAGS) -Idist -o $@ $< $(BUILD)/libattn_dist.a $(BUILD)/libattn.a $(DIST_LIBS) $(LIB_LDLIBS) $(LDLIBS_LIB)
tests: $(BUILD)/test_dist
endif
