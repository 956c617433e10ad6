# Integration tests of the read path (hubfs CLI against hubsim). Included from
# tests/integration/CMakeLists.txt.
if(TARGET hubsim AND TARGET hubfs)
  add_test(NAME reader_cli
           COMMAND ${CMAKE_CURRENT_LIST_DIR}/reader_cli_test.sh $<TARGET_FILE:hubfs>
                   $<TARGET_FILE:hubsim>)
  add_test(NAME reader_faults
           COMMAND ${CMAKE_CURRENT_LIST_DIR}/reader_faults_test.sh $<TARGET_FILE:hubfs>
                   $<TARGET_FILE:hubsim>)
  add_test(NAME reader_shared_cache
           COMMAND ${CMAKE_CURRENT_LIST_DIR}/reader_shared_cache_test.sh $<TARGET_FILE:hubfs>
                   $<TARGET_FILE:hubsim>)
  set_tests_properties(reader_cli reader_faults reader_shared_cache PROPERTIES LABELS integration TIMEOUT 300)
  # Files uploaded by the official JS client, from the conformance kit copy
  # that the conformance_kit fixture (tests/conformance) prepares.
  add_test(NAME reader_js_upload
           COMMAND ${CMAKE_CURRENT_LIST_DIR}/reader_js_upload_test.sh $<TARGET_FILE:hubfs>
                   $<TARGET_FILE:hubsim> ${HUBFS_CONFORMANCE_DIR})
  set_tests_properties(reader_js_upload PROPERTIES LABELS integration TIMEOUT 300
                       FIXTURES_REQUIRED conformance_kit)
  # 4 GiB through a 64 MiB cache: about 1 minute on 2 cores, ~8 GiB of
  # temporary disk at the peak.
  add_test(NAME reader_large_bounded
           COMMAND ${CMAKE_CURRENT_LIST_DIR}/reader_large_bounded_test.sh $<TARGET_FILE:hubfs>
                   $<TARGET_FILE:hubsim>)
  set_tests_properties(reader_large_bounded PROPERTIES LABELS integration TIMEOUT 900
                       SKIP_RETURN_CODE 77)
endif()
