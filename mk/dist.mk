# libattn_mpi: data-parallel training and ring attention over MPI (dist/, header
# include/attn/mpi.h, pkg-config attn-mpi), a library beside libattn ($(BUILD)/libattn_mpi.a),
# linked into the attn command. libattn itself has no MPI dependency.
# MPI=auto (default) uses OpenMPI when mpicc is found; MPI=0 builds the single-process version
# (same interface, one rank); MPI=1 requires MPI.
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
DIST_SRC := dist/dist_mpi.c dist/ring.c dist/ring_check.c dist/train.c
DIST_CFLAGS := $(shell mpicc --showme:compile)
DIST_LIBS := $(shell mpicc --showme:link)
else
DIST_SRC := dist/dist_single.c dist/ring.c dist/ring_check.c dist/train.c
DIST_CFLAGS :=
DIST_LIBS :=
endif
DIST_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(DIST_SRC))
$(DIST_OBJ): CFLAGS_ALL += $(DIST_CFLAGS)
$(BUILD)/libattn_mpi.a: $(DIST_OBJ)
	@rm -f $@
	ar rcs $@ $^
CLI_EXTRA += $(BUILD)/libattn_mpi.a
CLI_LDLIBS += $(DIST_LIBS)
DEPS += $(DIST_OBJ:.o=.d)
mpi: $(BUILD)/libattn_mpi.a
.PHONY: mpi install-mpi uninstall-mpi

# make install also installs libattn_mpi (include/attn/mpi.h goes with the public headers)
install: install-mpi
uninstall: uninstall-mpi
install-mpi: $(BUILD)/libattn_mpi.a
	install -d $(DESTDIR)$(PREFIX)/include/attn $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 include/attn/mpi.h $(DESTDIR)$(PREFIX)/include/attn/mpi.h
	install -m 644 $(BUILD)/libattn_mpi.a $(DESTDIR)$(PREFIX)/lib/libattn_mpi.a
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|0.1.0|' -e 's|@MPI_LIBS@|$(DIST_LIBS)|' \
	    -e 's|@MPI@|$(if $(DIST_MPI),OpenMPI,one process: built without MPI)|' \
	    attn-mpi.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/attn-mpi.pc
uninstall-mpi:
	rm -f $(DESTDIR)$(PREFIX)/lib/libattn_mpi.a $(DESTDIR)$(PREFIX)/lib/pkgconfig/attn-mpi.pc

# MPI test programs (scripts/test.d/mpi.sh runs them under mpirun)
ifeq ($(DIST_MPI),1)
$(BUILD)/test_dist: tests/mpi/test_dist.c $(BUILD)/libattn_mpi.a $(BUILD)/libattn.a
	$(CC) $(CFLAGS_ALL) -o $@ $< $(BUILD)/libattn_mpi.a $(BUILD)/libattn.a $(DIST_LIBS) $(LIB_LDLIBS) $(LDLIBS_LIB)
tests: $(BUILD)/test_dist
endif
