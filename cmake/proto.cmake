# Generates C++ (and gRPC) code for every .proto under proto/, one explicit command per file, with
# proto/ as the only import root (CMake's protobuf_generate misplaces outputs for a tree with imports).
file(GLOB_RECURSE OTELITE_PROTOS CONFIGURE_DEPENDS RELATIVE ${CMAKE_SOURCE_DIR}/proto
     ${CMAKE_SOURCE_DIR}/proto/*.proto)
set(PROTO_OUT ${CMAKE_BINARY_DIR}/proto)
file(MAKE_DIRECTORY ${PROTO_OUT})
set(PROTO_SRCS)
foreach(rel ${OTELITE_PROTOS})
  string(REGEX REPLACE "\\.proto$" "" base ${rel})
  set(outs ${PROTO_OUT}/${base}.pb.cc ${PROTO_OUT}/${base}.pb.h)
  set(grpc_args)
  # Only files that declare a service get gRPC stubs.
  file(STRINGS ${CMAKE_SOURCE_DIR}/proto/${rel} has_service REGEX "^service ")
  if(has_service)
    list(APPEND outs ${PROTO_OUT}/${base}.grpc.pb.cc ${PROTO_OUT}/${base}.grpc.pb.h)
    set(grpc_args --grpc_out=${PROTO_OUT}
        --plugin=protoc-gen-grpc=$<TARGET_FILE:gRPC::grpc_cpp_plugin>)
  endif()
  add_custom_command(
    OUTPUT ${outs}
    COMMAND protobuf::protoc -I ${CMAKE_SOURCE_DIR}/proto --cpp_out=${PROTO_OUT} ${grpc_args}
            ${CMAKE_SOURCE_DIR}/proto/${rel}
    DEPENDS ${CMAKE_SOURCE_DIR}/proto/${rel} protobuf::protoc
    COMMENT "protoc ${rel}" VERBATIM)
  list(FILTER outs INCLUDE REGEX "\\.cc$")
  list(APPEND PROTO_SRCS ${outs})
endforeach()

add_library(otelite_proto STATIC ${PROTO_SRCS})
target_include_directories(otelite_proto PUBLIC ${PROTO_OUT})
target_link_libraries(otelite_proto PUBLIC protobuf::libprotobuf gRPC::grpc++)
