/* Preloaded into the sanitizer build's tests: makes dlclose a no-op, so that the plugins Open
 * MPI unloads at MPI_Finalize stay mapped and LeakSanitizer can name the library of each leak
 * (and lsan.supp can suppress the ones that are Open MPI's, not physfit's). */
int dlclose(void* handle) {
  (void)handle;
  return 0;
}
