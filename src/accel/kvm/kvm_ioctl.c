/*
 * kvm_ioctl.c - the one place mpvmm calls ioctl(): every request to /dev/kvm, a VM or a vCPU
 * goes through kvm_ioctl_named, so that every failure is reported with the request's own
 * name and errno (as Linux's KVM selftests do with vm_ioctl/vcpu_ioctl).  It knows no
 * request's meaning.
 */
#include "accel/kvm/kvm_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "util/log.h"

int kvm_ioctl_named(int fd, unsigned long req, const char *name, void *arg, char *err,
		    size_t errlen)
{
	int r = ioctl(fd, req, arg);

	if (r < 0 && err) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", name, strerror(e));
		errno = e;
	}
	return r;
}

int kvm_vcpu_ioctl_named(struct accel_vcpu *v, unsigned long req, const char *name, void *arg)
{
	char why[160];
	int r = kvm_ioctl_named(v->fd, req, name, arg, why, sizeof(why));

	if (r < 0) {
		int e = errno;
		log_error("vCPU %u: %s", v->id, why);
		errno = e;
	}
	return r;
}

int kvm_enable_cap_named(struct kvm *k, uint32_t cap, const char *name, uint64_t arg0,
			 char *err, size_t errlen)
{
	struct kvm_enable_cap c = { .cap = cap, .args[0] = arg0 };

	return kvm_ioctl_named(k->vm_fd, KVM_ENABLE_CAP, name, &c, err, errlen) < 0 ? -1 : 0;
}

struct kvm *kvm_of(struct accel *a)
{
	return (struct kvm *)a;
}

int kvm_check_cap(struct kvm *k, long cap)
{
	int fd = k->vm_fd >= 0 ? k->vm_fd : k->sys_fd;
	int r = kvm_ioctl(fd, KVM_CHECK_EXTENSION, KVM_ARG(cap), NULL, 0);

	return r < 0 ? 0 : r;
}
