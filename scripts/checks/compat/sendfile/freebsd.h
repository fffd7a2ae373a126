/* sendfile(2) as FreeBSD's manual page declares it (<sys/socket.h>), for
 * scripts/checks/15-platforms.sh step 7 only: written from sendfile(2), no system header
 * copied. */
#include <sys/types.h>
struct sf_hdtr;
int sendfile(int fd, int s, off_t offset, size_t nbytes, struct sf_hdtr *hdtr, off_t *sbytes,
             int flags);
