#ifndef CASSNAP_CCURL_SHIM_H
#define CASSNAP_CCURL_SHIM_H
#include <curl/curl.h>

/* Swift cannot call the variadic curl_easy_setopt; one typed wrapper per argument kind. */
static inline CURLcode cassnap_curl_setopt_long(CURL *h, CURLoption o, long v) {
    return curl_easy_setopt(h, o, v);
}
static inline CURLcode cassnap_curl_setopt_off(CURL *h, CURLoption o, curl_off_t v) {
    return curl_easy_setopt(h, o, v);
}
static inline CURLcode cassnap_curl_setopt_string(CURL *h, CURLoption o, const char *v) {
    return curl_easy_setopt(h, o, v);
}
static inline CURLcode cassnap_curl_setopt_pointer(CURL *h, CURLoption o, void *v) {
    return curl_easy_setopt(h, o, v);
}
static inline CURLcode cassnap_curl_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) {
    return curl_easy_setopt(h, o, v);
}
typedef size_t (*cassnap_curl_data_cb)(char *, size_t, size_t, void *);
static inline CURLcode cassnap_curl_setopt_data_cb(CURL *h, CURLoption o, cassnap_curl_data_cb v) {
    return curl_easy_setopt(h, o, v);
}
typedef int (*cassnap_curl_seek_cb)(void *, curl_off_t, int);
static inline CURLcode cassnap_curl_setopt_seek_cb(CURL *h, CURLoption o, cassnap_curl_seek_cb v) {
    return curl_easy_setopt(h, o, v);
}
typedef int (*cassnap_curl_xferinfo_cb)(void *, curl_off_t, curl_off_t, curl_off_t, curl_off_t);
static inline CURLcode cassnap_curl_setopt_xferinfo_cb(CURL *h, CURLoption o, cassnap_curl_xferinfo_cb v) {
    return curl_easy_setopt(h, o, v);
}
static inline CURLcode cassnap_curl_getinfo_long(CURL *h, CURLINFO i, long *v) {
    return curl_easy_getinfo(h, i, v);
}
static inline CURLcode cassnap_curl_getinfo_off(CURL *h, CURLINFO i, curl_off_t *v) {
    return curl_easy_getinfo(h, i, v);
}
#endif
