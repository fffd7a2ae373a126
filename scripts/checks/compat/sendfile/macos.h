/* sendfile(2) as macOS's manual page declares it (<sys/socket.h>), for
 * scripts/checks/15-platforms.sh step 7 only: written from sendfile(2), no system header
 * copied. */
#include <sys/types.h>
struct sf_hdtr;
int sendfile(int fd, int s, off_t offset, off_t *len, struct sf_hdtr *hdtr, int flags);
