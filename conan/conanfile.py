# Conan 2 recipe: builds kbus from this checkout with its dependencies from Conan Center.
from conan import ConanFile
from conan.tools.cmake import CMake, CMakeToolchain, CMakeDeps, cmake_layout
from conan.tools.files import copy
import os


class KbusConan(ConanFile):
    name = "kbus"
    version = "0.1.0"
    license = "MIT"
    description = "C++20 D-Bus library: one marshalling, three transports (socket, kdbus, CUSE)"
    settings = "os", "compiler", "build_type", "arch"
    options = {"shared": [True, False]}
    default_options = {"shared": True}
    requires = ("boost/1.83.0", "nlohmann_json/3.11.3", "openssl/3.2.1")

    def export_sources(self):
        # The recipe lives in conan/; the sources are the checkout around it.
        root = os.path.join(self.recipe_folder, "..")
        for pattern in ("CMakeLists.txt", "LICENSE", "cmake/*", "include/*", "src/*", "tools/*", "examples/*"):
            copy(self, pattern, root, self.export_sources_folder)

    def layout(self):
        cmake_layout(self)

    def generate(self):
        CMakeDeps(self).generate()
        tc = CMakeToolchain(self)
        tc.variables["KBUS_BUILD_TESTS"] = False
        tc.variables["KBUS_BUILD_EXAMPLES"] = False
        tc.variables["BUILD_SHARED_LIBS"] = self.options.shared
        tc.generate()

    def build(self):
        cmake = CMake(self)
        cmake.configure()
        cmake.build()

    def package(self):
        CMake(self).install()
        copy(self, "LICENSE", self.source_folder, os.path.join(self.package_folder, "licenses"))

    def package_info(self):
        self.cpp_info.set_property("cmake_file_name", "kbus")
        self.cpp_info.set_property("cmake_target_name", "kbus::kbus")
        self.cpp_info.set_property("pkg_config_name", "kbus")
        self.cpp_info.libs = ["kbus"]
